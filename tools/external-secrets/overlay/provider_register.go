// Package register replaces ESO's pkg/provider/register/register.go through `go build -overlay`
// (scripts/cluster.sh): the local cluster only uses the kubernetes provider, and the other 37 providers'
// cloud SDKs make up most of a full build's time and memory.
package register

import (
	// The provider the global stack's CA store and the demo's stand-in secrets provider use.
	_ "github.com/external-secrets/external-secrets/pkg/provider/kubernetes"
)
