// Package logging owns lab's own diagnostic log: the lines `lab --log-level debug` (or
// -D) prints on stderr about what lab does on a user's behalf (what it mounts, which
// locks it takes, how long each step of a run took), for a user asking why a run is
// slow or stuck. Runtime packages log through L(); only the CLI turns it on. Off, it
// costs a level check per call and prints nothing.
package logging
