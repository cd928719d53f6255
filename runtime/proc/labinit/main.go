// Command lab-init is the init of lab's containers: lab starts it inside the new
// namespaces, hands it the spec on a pipe and it becomes the container's command
// (runtime/proc.Init). It links only the init side of runtime/proc, so it starts in a
// fraction of the time the whole lab binary needs; `make build` puts it next to
// bin/lab, where lab looks for it (proc.InitBinary).
package main

import (
	"fmt"
	"os"

	"lab/runtime/proc"
)

func main() {
	if !proc.IsInit() {
		fmt.Fprintln(os.Stderr, "lab-init: the init of lab's containers; lab starts it, it is not run by hand")
		os.Exit(2)
	}
	proc.Init()
}
