package proc

// Spec is everything the init needs to turn itself into the container.
type Spec struct {
	Rootfs   string   // empty directory the overlay is mounted on, in the new mount namespace only
	Lower    []string // overlay lower dirs, topmost first
	Upper    string
	Work     string
	Hostname string
	Binds    []Bind // host files bind-mounted into the container (hostname, hosts)
	Args     []string
	Env      []string
	Cwd      string
	User     string // "", "uid", "uid:gid", "name" or "name:group", resolved in the container's /etc
	Console  string // host path of the pty slave to bind at /dev/console ("" without a tty)
	// Volatile mounts the overlay without syncs (--rm: the upper dir dies with the
	// container, so unmounting it need not flush the host's whole filesystem first).
	Volatile bool
	// Caps are the capability numbers the command keeps (its bounding, permitted and
	// effective sets): Docker's defaults changed by --cap-add/--cap-drop, or all.
	Caps []int
	// Privileged leaves /proc and /sys unmasked and /sys writable (docker run
	// --privileged); the caller also gives every capability and no seccomp filter.
	Privileged bool
	// NoNewPrivs sets no_new_privs before exec: setuid and file capabilities can no
	// longer raise the command's privileges (--security-opt no-new-privileges).
	NoNewPrivs bool
	// Seccomp is the compiled filter, struct sock_filter entries in the machine's byte
	// order (see runtime/seccomp); nil runs the command unconfined.
	Seccomp []byte
	// Scratch, when set, is a host directory the init covers with a tmpfs in the
	// container's own mount namespace before anything else; Rootfs, Upper, Work (and
	// ScratchFiles) are then made inside it. An --rm container's writable layer lives
	// there: nothing of it touches the disk, and it goes with the last process of the
	// container, however that ends.
	Scratch      string
	ScratchFiles map[string]string // path (inside Scratch) -> content, e.g. hostname
}

// Bind mounts host file Source at container path Target.
type Bind struct {
	Source string
	Target string
}

// StartError is a failure before the command ran. Code follows Docker: 125 for a setup
// failure, 126 when the command cannot be invoked, 127 when it does not exist.
type StartError struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

func (e *StartError) Error() string { return e.Msg }
