// Command lab is a container lab driven by embedded Lua. See README.md.
package main

import (
	"os"

	"lab/lab"
	"lab/runtime/proc"
)

func main() {
	// Without a lab-init beside it, lab re-executes itself as the container init
	// (proc.InitBinary): that must take over before any other start-up work.
	if proc.IsInit() {
		proc.Init()
	}
	os.Exit(lab.Main(os.Args[1:]))
}
