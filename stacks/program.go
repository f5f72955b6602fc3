// Package stacks picks the stack program: the global stack (CA, certificates, database, Redis, gateway) or a
// site stack (secrets and a Celery worker). The project's binary and the fleet runner's inline program both
// run Program, so a stack deploys the same whichever runs it.
package stacks

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"nautobot-worker/internal/kube"
	"nautobot-worker/internal/stackconfig"
	"nautobot-worker/stacks/global"
	"nautobot-worker/stacks/site"
)

// Program runs the stack kind that config role names, or that the stack's name implies (global, site-<name>).
func Program(ctx *pulumi.Context) error {
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
	// Before anything registers: the transform applies to the objects registered after it.
	manager := kube.FieldManager(ctx.Project(), ctx.Stack())
	if err := ctx.RegisterResourceTransform(kube.StableFieldManager(manager)); err != nil {
		return err
	}
	outputs, err := build(ctx)
	if err != nil {
		return err
	}
	stackconfig.ExportAll(ctx, outputs)
	return nil
}
