package engine

import (
	"os"
	"strconv"
	"time"
)

// SourceDateEpoch is $SOURCE_DATE_EPOCH as a time (nil when unset or not a number of
// seconds). When set, commits and builds are reproducible: the image's created time and
// history come from it and layer entries' mtimes are clamped to it, so the same change
// gives the same layer digest and image ID on any machine. Unset, times are real, as
// Docker's.
func SourceDateEpoch() *time.Time {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil
	}
	t := time.Unix(n, 0).UTC()
	return &t
}
