// Command nautobot-worker is the Pulumi program of both stack kinds (see package stacks).
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"nautobot-worker/stacks"
)

func main() { pulumi.Run(stacks.Program) }
