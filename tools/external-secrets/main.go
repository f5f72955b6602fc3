// Command external-secrets is ESO's controller (`external-secrets` with no subcommand), unchanged.
package main

import "github.com/external-secrets/external-secrets/cmd/controller"

func main() { controller.Execute() }
