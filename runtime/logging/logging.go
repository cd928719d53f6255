package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
)

var current atomic.Pointer[slog.Logger]

func init() { current.Store(slog.New(slog.DiscardHandler)) }

// L is the logger runtime packages write to: silent unless Enable was called.
func L() *slog.Logger { return current.Load() }

// ParseLevel reads Docker's --log-level names: debug, info, warn (or warning), error,
// fatal (lab has no fatal lines of its own, so it is error's level).
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error", "fatal", "panic":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unable to parse logging level: %s", s)
}

// Enable sends lines at level and above to w (lab: stderr), one per event, as
// "time level msg key=value...", times to the millisecond.
func Enable(w io.Writer, level slog.Level) {
	h := slog.NewTextHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		switch {
		case len(groups) == 0 && a.Key == slog.TimeKey:
			return slog.String(a.Key, a.Value.Time().Format("15:04:05.000"))
		case a.Value.Kind() == slog.KindDuration:
			return slog.String(a.Key, Ms(a.Value.Duration()))
		}
		return a
	}})
	current.Store(slog.New(h))
}

// Ms formats a step's duration the way the log shows it: milliseconds, 0.1 ms precise.
func Ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

// Since is the time elapsed since t, for a log line's "took" attribute.
func Since(t time.Time) slog.Attr { return slog.Duration("took", time.Since(t)) }
