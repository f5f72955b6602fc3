// Command tomanifest turns the JSON of `pulumi preview --json` (stdin) into the manifest the engine-floor
// program (bench/floor) registers (stdout). With -lines it prints instead one sorted line per resource,
// "<type> <name> <parent type>::<parent name>", so two previews can be compared with diff.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"

	"nautobot-worker/bench/manifest"
)

func main() {
	lines := flag.Bool("lines", false, "print one sorted line per resource instead of the manifest")
	flag.Parse()
	resources, err := manifest.FromPreview(os.Stdin)
	if err == nil && *lines {
		var out []string
		for _, r := range resources {
			parent := "-"
			if r.Parent >= 0 {
				parent = resources[r.Parent].Type + "::" + resources[r.Parent].Name
			}
			out = append(out, r.Type+" "+r.Name+" "+parent)
		}
		slices.Sort(out)
		for _, l := range out {
			fmt.Println(l)
		}
	} else if err == nil {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", " ")
		err = enc.Encode(resources)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tomanifest:", err)
		os.Exit(1)
	}
}
