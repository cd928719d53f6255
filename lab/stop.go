package lab

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"lab/runtime/engine"
)

// startEach starts containers one by one as Docker's client does: a failure is
// reported and the rest still start; the names that failed end the run with
// "Error: failed to start containers: ..." and exit 1.
func startEach(a *app, refs []string, start func(ref string) error) error {
	var failed []string
	for _, ref := range refs {
		if err := start(ref); err != nil {
			fmt.Fprintf(a.stderr, "lab start: %v\n", err)
			failed = append(failed, ref)
			continue
		}
		fmt.Fprintln(a.stdout, ref)
	}
	if len(failed) > 0 {
		return &statusError{code: 1, msg: "Error: failed to start containers: " + strings.Join(failed, ", ")}
	}
	return nil
}

type stopFlags struct {
	timeout int
	signal  string
}

func addStopFlags(fs *pflag.FlagSet) any {
	f := &stopFlags{}
	fs.IntVarP(&f.timeout, "timeout", "t", 10, "Seconds to wait before killing the container")
	fs.IntVar(&f.timeout, "time", 10, "Seconds to wait before killing the container (deprecated spelling of --timeout)")
	fs.StringVarP(&f.signal, "signal", "s", "", "Signal to send to the container (default: the image's STOPSIGNAL, else TERM)")
	return f
}

func cmdStop(ctx context.Context, a *app, args []string) error {
	f := a.opts.(*stopFlags)
	var sig syscall.Signal
	if f.signal != "" {
		s, ok := signalByName(f.signal)
		if !ok {
			return &statusError{code: 1, msg: fmt.Sprintf("lab stop: invalid signal: %s", f.signal)}
		}
		sig = s
	}
	return eachContainer(ctx, a, args, func(e *engine.Engine, ref string) error {
		_, err := e.Stop(ctx, ref, time.Duration(f.timeout)*time.Second, sig)
		return err
	})
}
