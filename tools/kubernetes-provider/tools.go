//go:build tools

// Package tools pins the kubernetes provider (v4.25.0, the only provider build the module proxy serves).
// Its main package embeds generated schema files that are not in the module zip, so
// scripts/tools.sh copies cmd/pulumi-resource-kubernetes here and generates them before building.
package tools

import (
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	_ "github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
	_ "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)
