// Command nautobot-worker is the Pulumi program of both stack kinds: the global stack (CA, certificates,
// database, Redis, gateway) and one site stack per site (secrets and a Celery worker).
package main

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"nautobot-worker/internal/stackconfig"
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
	build, ok := map[string]func(*pulumi.Context) (map[string]pulumi.Input, error){
		"global": global.Build,
		"site":   site.Build,
	}[role]
	if !ok {
		return fmt.Errorf("config %s:role: %q is not a stack role; set it to global or site (or name the stack global or site-<name>)",
			ctx.Project(), role)
	}
	outputs, err := build(ctx)
	if err != nil {
		return err
	}
	stackconfig.ExportAll(ctx, outputs)
	return nil
}
