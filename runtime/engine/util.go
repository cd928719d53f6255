package engine

import (
	"encoding/json"
	goruntime "runtime"
)

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func hostArch() string { return goruntime.GOARCH }
