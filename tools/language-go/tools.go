//go:build tools

// Package tools pins the Go language host (the last SDK release that still ships it).
package tools

import _ "github.com/pulumi/pulumi/sdk/v3/go/pulumi-language-go"
