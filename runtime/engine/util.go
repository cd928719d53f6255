package engine

import (
	"encoding/json"
	"fmt"
	goruntime "runtime"
	"strings"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func hostArch() string { return goruntime.GOARCH }

// maxMessage is how long an error message may be before Clip cuts it: an error that
// quotes a 100 KB argument back is unreadable, and nobody needs all of it.
const maxMessage = 1024

// Clip cuts the middle out of a long error message, keeping its start and end (where
// the reason usually is) and saying how much went.
func Clip(msg string) string {
	if len(msg) <= maxMessage {
		return msg
	}
	head, tail := msg[:maxMessage*3/4], msg[len(msg)-maxMessage/8:]
	return strings.ToValidUTF8(head, "") + fmt.Sprintf("...[%d bytes cut]...", len(msg)-len(head)-len(tail)) + strings.ToValidUTF8(tail, "")
}
