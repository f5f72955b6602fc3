// Command nautobot-worker is the Pulumi program of both stack kinds: the global stack (CA, certificates,
// database, Redis, gateway) and one site stack per site (secrets and a Celery worker).
package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"nautobot-worker/stacks/global"
	"nautobot-worker/stacks/site"
)

func main() { pulumi.Run(program) }

func program(ctx *pulumi.Context) error {
	role := config.Get(ctx, "role")
	if role == "" {
		switch stack := ctx.Stack(); {
		case stack == "global":
			role = "global"
		case strings.HasPrefix(stack, "site-"):
			role = "site"
		}
	}
	switch role {
	case "global":
		return global.Program(ctx)
	case "site":
		return site.Program(ctx)
	}
	return fmt.Errorf("config %s:role: %q is not a stack role; set it to global or site (or name the stack global or site-<name>)",
		ctx.Project(), role)
}
