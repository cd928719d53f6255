package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// The lab binary comes in two builds of the same main. The full one (`go build`,
// bin/lab-full) has everything. The lean one (`go build -tags lean`, bin/lab) leaves
// out the Lua side (scripts, the REPL, `lab test`) and `lab build`, and with them
// gopher-lua, readline, BuildKit's Dockerfile parser and protobuf: their package
// initialisation and the size of the binary cost every `lab run`, `ps` and `start` time
// at process start. The lean build hands what it lacks over to lab-full next to it.

// fullOnly are the verbs only the full build registers.
var fullOnly = []string{"build", "test", "record"}

// needsFull reports whether args need the full build and this is not it.
func needsFull(args []string) bool {
	if scriptMain != nil {
		return false
	}
	if len(args) == 0 {
		return true // the REPL, or a script on stdin
	}
	switch a := args[0]; {
	case strings.HasSuffix(a, ".lua"), a == "-", a == "help", a == "--help", a == "-h":
		return true
	default:
		return slices.Contains(fullOnly, a)
	}
}

// execFull replaces this process with lab-full, found next to the running executable,
// with the same arguments. It returns only on failure.
func execFull(a *app, args []string) int {
	self, err := os.Executable()
	if err == nil {
		full := filepath.Join(filepath.Dir(self), "lab-full")
		err = syscall.Exec(full, append([]string{full}, args...), os.Environ())
	}
	what := "the Lua side"
	if len(args) > 0 && slices.Contains(fullOnly, args[0]) {
		what = "'lab " + args[0] + "'"
	}
	fmt.Fprintf(a.stderr, "lab: %s needs lab-full next to lab (make build): %v\n", what, err)
	return 125
}
