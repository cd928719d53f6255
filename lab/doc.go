// Package lab is the program: the Docker-style CLI verbs, their flags and their output.
// It talks to the runtime only through runtime/engine, and prints tables through
// lab/table so that the CLI and the Lua binding print the same rows.
package lab
