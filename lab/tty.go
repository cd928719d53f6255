package lab

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"

	"lab/runtime/proc"
)

// terminal is lab's own terminal while a -t container is attached: raw mode so every
// key (Ctrl-C, Ctrl-D, Ctrl-Z) reaches the container's line discipline, its size copied
// to the container now and on every SIGWINCH, and the settings restored afterwards.
type terminal struct {
	f      *os.File
	saved  *unix.Termios
	Size   *proc.Winsize
	Resize chan proc.Winsize
	winch  chan os.Signal
	done   chan struct{}
}

func openTerminal(f *os.File) (*terminal, error) {
	saved, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	t := &terminal{f: f, saved: saved, Resize: make(chan proc.Winsize, 1), winch: make(chan os.Signal, 1), done: make(chan struct{})}
	if ws, err := proc.GetWinsize(f); err == nil {
		t.Size = &ws
	}
	signal.Notify(t.winch, syscall.SIGWINCH)
	go func() {
		for {
			select {
			case <-t.done:
				return
			case <-t.winch:
				if ws, err := proc.GetWinsize(f); err == nil {
					select {
					case t.Resize <- ws:
					default:
					}
				}
			}
		}
	}()
	return t, nil
}

// restore puts the terminal back as it was; safe to call more than once.
func (t *terminal) restore() {
	select {
	case <-t.done:
		return
	default:
	}
	close(t.done)
	signal.Stop(t.winch)
	unix.IoctlSetTermios(int(t.f.Fd()), unix.TCSETS, t.saved)
}
