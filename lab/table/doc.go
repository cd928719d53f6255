// Package table owns the human-readable tables of `ps`, `images` and
// `history`: column set, headers, truncation and the wording of times and
// sizes. The CLI and the Lua binding both print through it so a row reads
// the same wherever it appears, and it follows Docker's CLI formatter
// (tabwriter settings, go-units wording) so transcripts match Docker's.
package table
