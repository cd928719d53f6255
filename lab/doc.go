// Package lab is the program: the Docker-style CLI verbs, their flags and their output,
// and the Lua runners. It talks to the runtime only through runtime/engine, and prints
// tables through lab/table so that the CLI and the Lua binding print the same rows.
//
// Where things are: main.go (dispatch, global flags -D/--log-level/--lua-memory, exit
// codes), containers.go, images.go, stop.go, limits.go (run flags), tty.go (-it);
// build.go (lab build); registry.go (pull, push,
// login, save, load); system.go and df.go (fsck, prune, system df); format.go and
// filter.go (--format templates, --filter); version.go, completion.go, tree.go; the Lua
// side: script.go (lab FILE.lua), repl.go, replhelp.go and paste.go (the REPL),
// record.go (lab record), scenario.go and junit.go (lab test).
//
// It builds two ways (lean.go): in full, and with -tags lean without the Lua side, lab
// build and lab record, which it then hands over to lab-full next to it; bin/lab is the
// lean one, so that starting a container loads none of gopher-lua, readline or
// BuildKit (TestLeanBuild checks the dependency list).
package lab
