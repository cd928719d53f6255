package engine

import (
	"io"
	"os"

	"lab/runtime/proc"
)

// ttyCopy joins a container's pty to the caller: the master's output goes to the
// caller's stdout (and the log), the caller's stdin to the master, and size changes to
// the master.
type ttyCopy struct {
	master, slave *os.File
	in            io.Reader
	out           io.Writer
	resize        <-chan proc.Winsize
	outDone       chan struct{}
	stop          chan struct{}
}

func newTTY(o StartOptions, stdio proc.IO) (*ttyCopy, error) {
	m, s, err := proc.OpenPty()
	if err != nil {
		return nil, err
	}
	if o.Size != nil {
		proc.SetWinsize(m, *o.Size)
	}
	return &ttyCopy{master: m, slave: s, in: stdio.Stdin, out: stdio.Stdout, resize: o.Resize,
		outDone: make(chan struct{}), stop: make(chan struct{})}, nil
}

// started closes lab's copy of the slave (the container holds its own) and starts the
// copies once the container runs.
func (t *ttyCopy) started(ok bool) {
	t.slave.Close()
	if !ok {
		close(t.outDone)
		return
	}
	go func() {
		defer close(t.outDone)
		// Reading the master ends with EIO once every holder of the slave is gone,
		// which is when the container's pid namespace has died.
		out := t.out
		if out == nil {
			out = io.Discard
		}
		io.Copy(out, t.master)
	}()
	if t.in != nil {
		go io.Copy(t.master, t.in)
	}
	go func() {
		for {
			select {
			case <-t.stop:
				return
			case ws, ok := <-t.resize:
				if !ok {
					return
				}
				proc.SetWinsize(t.master, ws)
			}
		}
	}()
}

// drain waits until the container's last output has been copied.
func (t *ttyCopy) drain() { <-t.outDone }

func (t *ttyCopy) close() {
	close(t.stop)
	t.slave.Close() // already closed once the container started; not if the start failed before
	t.master.Close()
}
