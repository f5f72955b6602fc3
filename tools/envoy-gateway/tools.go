//go:build tools

// Package tools pins Envoy Gateway's controller and its egctl, both built by scripts/cluster.sh in one
// `go build` so the two share the compile of the controller's packages.
package tools

import (
	_ "github.com/envoyproxy/gateway/cmd/egctl"
	_ "github.com/envoyproxy/gateway/cmd/envoy-gateway"
)
