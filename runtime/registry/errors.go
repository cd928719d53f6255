package registry

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotFound is a manifest or repository the registry does not have.
var ErrNotFound = errors.New("not found")

// ErrDenied is a registry refusing access.
var ErrDenied = errors.New("denied")

// ErrUnavailable is a registry that cannot be reached or answers 429/5xx.
var ErrUnavailable = errors.New("registry unavailable")

// Error is a registry failure: Msg is the line a user sees, Kind the sentinel it
// matches with errors.Is.
type Error struct {
	Kind error
	Msg  string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Kind }

func newError(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// classify turns what go-containerregistry returns into one line a user can act on,
// the way Docker words it, wrapping one of this package's sentinel errors.
func classify(err error, ref string) error {
	var te *transport.Error
	if errors.As(err, &te) {
		msg := strings.TrimSpace(diagnostics(te))
		switch te.StatusCode {
		case http.StatusNotFound:
			if ref != "" {
				return newError(ErrNotFound, "manifest for %s not found: %s", ref, msg)
			}
			return newError(ErrNotFound, "%s", msg)
		case http.StatusUnauthorized, http.StatusForbidden:
			if ref != "" {
				return newError(ErrDenied, "pull access denied for %s, repository does not exist or may require 'lab login': %s", ref, msg)
			}
			return newError(ErrDenied, "%s", msg)
		case http.StatusTooManyRequests:
			return newError(ErrUnavailable, "toomanyrequests: %s", msg)
		}
		if te.StatusCode >= 500 {
			return newError(ErrUnavailable, "received unexpected HTTP status: %d %s", te.StatusCode, http.StatusText(te.StatusCode))
		}
		return newError(ErrUnavailable, "%s", te.Error())
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &ne) || errors.As(err, &oe) || strings.Contains(err.Error(), "connection refused") || strings.Contains(err.Error(), "no such host") {
		return newError(ErrUnavailable, "%s", oneLine(err.Error()))
	}
	return errors.New(oneLine(err.Error()))
}

func diagnostics(te *transport.Error) string {
	if len(te.Errors) == 0 {
		return strings.ToLower(http.StatusText(te.StatusCode))
	}
	var out []string
	for _, d := range te.Errors {
		out = append(out, strings.ToLower(strings.ReplaceAll(string(d.Code), "_", " "))+": "+d.Message)
	}
	return strings.Join(out, "; ")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
