package lab

import (
	"context"
	"fmt"
	"strings"
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
	time   int
	signal string
}

func addStopFlags(fs *pflag.FlagSet) any {
	f := &stopFlags{}
	fs.IntVarP(&f.time, "time", "t", 10, "Seconds to wait before killing the container")
	fs.StringVarP(&f.signal, "signal", "s", "TERM", "Signal to send to the container")
	return f
}

func cmdStop(ctx context.Context, a *app, args []string) error {
	f := a.opts.(*stopFlags)
	sig, ok := signalByName(f.signal)
	if !ok {
		return &statusError{code: 1, msg: fmt.Sprintf("lab stop: invalid signal: %s", f.signal)}
	}
	return eachContainer(ctx, a, args, func(e *engine.Engine, ref string) error {
		_, err := e.StopWith(ctx, ref, sig, time.Duration(f.time)*time.Second)
		return err
	})
}
