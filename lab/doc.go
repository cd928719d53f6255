// Package lab is the program: the Docker-style CLI verbs, their flags and their output.
// It talks to the runtime only through runtime/engine, and prints tables through
// lab/table so that the CLI and the Lua binding print the same rows.
//
// It builds two ways (lean.go): in full, and with -tags lean without the Lua side and
// lab build, which it then hands over to lab-full next to it; bin/lab is the lean one,
// so that starting a container loads none of gopher-lua, readline or BuildKit.
package lab
