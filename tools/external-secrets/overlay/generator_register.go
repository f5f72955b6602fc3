// Package register replaces ESO's pkg/generator/register/register.go through `go build -overlay`
// (scripts/cluster.sh): no stack uses a generator, and the cloud registry generators (ECR, GCR, ACR)
// pull in the same SDKs as their providers.
package register
