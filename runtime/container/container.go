package container

import (
	"strings"
	"time"
)

// Status values, as Docker names them.
const (
	Created = "created"
	Running = "running"
	Exited  = "exited"
)

// Config is how the container was asked to run.
type Config struct {
	Image      string   `json:"Image"` // the reference the user gave
	Env        []string `json:"Env"`
	WorkingDir string   `json:"WorkingDir"`
	Hostname   string   `json:"Hostname"`
	User       string   `json:"User"`
	Tty        bool     `json:"Tty"`
	OpenStdin  bool     `json:"OpenStdin"`
	AutoRemove bool     `json:"AutoRemove"`
	Entrypoint []string `json:"Entrypoint"`
	Cmd        []string `json:"Cmd"`
	// Resource limits (docker inspect shows them under HostConfig); 0 is unlimited.
	Memory    int64 `json:"Memory,omitempty"`    // bytes
	PidsLimit int64 `json:"PidsLimit,omitempty"` // processes
	NanoCPUs  int64 `json:"NanoCpus,omitempty"`  // billionths of a CPU
	// Security, as docker inspect shows it under HostConfig: capability names
	// normalized (CAP_ prefix, upper case, or ALL); a seccomp=FILE option holds the
	// file's JSON, read at create time.
	CapAdd      []string `json:"CapAdd,omitempty"`
	CapDrop     []string `json:"CapDrop,omitempty"`
	Privileged  bool     `json:"Privileged,omitempty"`
	SecurityOpt []string `json:"SecurityOpt,omitempty"`
}

// State is what happened to the container so far.
type State struct {
	Status     string    `json:"Status"`
	Running    bool      `json:"Running"`
	Pid        int       `json:"Pid"`
	ExitCode   int       `json:"ExitCode"`
	Error      string    `json:"Error"`
	OOMKilled  bool      `json:"OOMKilled"`
	StartedAt  time.Time `json:"StartedAt"`
	FinishedAt time.Time `json:"FinishedAt"`
}

// Container is one container record. Field names follow `docker inspect`.
type Container struct {
	ID      string    `json:"Id"`
	Name    string    `json:"Name"`
	Created time.Time `json:"Created"`
	Image   string    `json:"Image"` // image ID, "sha256:<hex>"
	Path    string    `json:"Path"`
	Args    []string  `json:"Args"`
	Config  Config    `json:"Config"`
	State   State     `json:"State"`
}

// ShortID is the 12-hex form Docker prints and uses as hostname.
func (c *Container) ShortID() string { return c.ID[:12] }

// Command is the command line as Docker's API reports it: path and args joined by
// spaces, an argument that contains a space wrapped in single quotes (as is, unescaped).
func (c *Container) Command() string {
	parts := []string{c.Path}
	for _, a := range c.Args {
		if strings.Contains(a, " ") {
			a = "'" + a + "'"
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}
