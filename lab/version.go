package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"lab/lab/table"
	"lab/runtime/cgroup"
	"lab/runtime/container"
	"lab/runtime/engine"
)

// `lab version`, `lab --version` and `lab info`, shaped as Docker's, with --format
// templates on Docker's field names.

// Version is lab's release; `make build` may override it with
// -ldflags "-X lab/lab.Version=...".
var Version = "0.1.0"

// GitCommit is stamped by `make build` (-ldflags "-X lab/lab.GitCommit=..."), since
// GOFLAGS=-buildvcs=false or a build outside the checkout leaves no vcs.revision.
var GitCommit string

func init() {
	register(map[string]*command{
		"version": {usage: "[OPTIONS]", short: "Show the lab version information", interspersed: true,
			flags: func(fs *pflag.FlagSet) any { return fs.StringP("format", "f", "", formatUsage) },
			run:   cmdVersion},
		"info": {usage: "[OPTIONS]", short: "Display system-wide information", interspersed: true,
			flags: func(fs *pflag.FlagSet) any { return fs.StringP("format", "f", "", formatUsage) },
			run:   cmdInfo},
	})
}

// ClientVersion is `lab version`'s object (`{{.Client.GitCommit}}`...).
type ClientVersion struct {
	Version, GoVersion, GitCommit, BuildTime, Os, Arch string
}

// StoreVersion describes the store this lab uses.
type StoreVersion struct {
	Root, Format string
}

type versionInfo struct {
	Client ClientVersion
	Store  StoreVersion
}

// buildVersion reads the commit from what `go build` stamps into the binary (vcs.*,
// when built inside the git checkout, as `make build` does).
func buildVersion() ClientVersion {
	v := ClientVersion{Version: Version, GoVersion: runtime.Version(), GitCommit: "unknown", Os: runtime.GOOS, Arch: runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.GitCommit = s.Value[:min(7, len(s.Value))]
			case "vcs.time":
				v.BuildTime = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && v.GitCommit != "unknown" {
			v.GitCommit += "-dirty"
		}
	}
	if GitCommit != "" {
		v.GitCommit = GitCommit
	}
	return v
}

// storeFormat is the OCI layout version the store declares, read without opening
// (and so without creating) the store.
func storeFormat(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "oci-layout"))
	if err != nil {
		return "none (no store yet)"
	}
	var l struct{ ImageLayoutVersion string }
	if json.Unmarshal(b, &l) != nil || l.ImageLayoutVersion == "" {
		return "unknown"
	}
	return "OCI image layout " + l.ImageLayoutVersion
}

func printVersionLine(w io.Writer) {
	v := buildVersion()
	fmt.Fprintf(w, "lab version %s, build %s\n", v.Version, v.GitCommit)
}

func cmdVersion(ctx context.Context, a *app, args []string) error {
	if err := noArgs(a, args); err != nil {
		return err
	}
	root := engine.DefaultRoot()
	v := versionInfo{Client: buildVersion(), Store: StoreVersion{Root: root, Format: storeFormat(root)}}
	if done, err := templateOut(a, *a.opts.(*string), v); done {
		return err
	}
	c := v.Client
	built := c.BuildTime
	if built == "" {
		built = "unknown"
	}
	fmt.Fprintf(a.stdout, "Client:\n Version:           %s\n Go version:        %s\n Git commit:        %s\n Built:             %s\n OS/Arch:           %s/%s\n\nStore:\n Root:              %s\n Format:            %s\n",
		c.Version, c.GoVersion, c.GitCommit, built, c.Os, c.Arch, v.Store.Root, v.Store.Format)
	return nil
}

// templateOut prints v through a --format template; done is false without one.
func templateOut(a *app, format string, v any) (done bool, err error) {
	if format == "" {
		return false, nil
	}
	if format == "json" {
		format = "{{json .}}"
	}
	fm, err := table.ParseTemplate(format)
	if err != nil {
		return true, err
	}
	return true, fm.Execute(a.stdout, v)
}

// systemInfo is `lab info`'s object; names follow Docker's where Docker has one.
type systemInfo struct {
	Containers, ContainersRunning, ContainersPaused, ContainersStopped, Images int
	Driver, CgroupDriver, CgroupVersion                                        string
	CgroupControllers                                                          []string
	KernelVersion, OperatingSystem, OSType, Architecture                       string
	NCPU                                                                       int
	MemTotal                                                                   int64
	DockerRootDir, StoreFormat, ClientVersion                                  string
}

func cmdInfo(ctx context.Context, a *app, args []string) error {
	if err := noArgs(a, args); err != nil {
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	cs, err := e.Containers.List()
	if err != nil {
		return err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return err
	}
	in := systemInfo{Containers: len(cs), Images: len(imgs), Driver: "overlay", CgroupDriver: "cgroupfs",
		OSType: runtime.GOOS, NCPU: runtime.NumCPU(), DockerRootDir: e.Root, StoreFormat: storeFormat(e.Root),
		ClientVersion: Version, CgroupControllers: []string{}}
	for _, c := range cs {
		switch c.State.Status {
		case container.Running:
			in.ContainersRunning++
		case "paused":
			in.ContainersPaused++
		default:
			in.ContainersStopped++
		}
	}
	versions := map[string]bool{}
	for _, ctrl := range []string{"cpu", "memory", "pids"} {
		if v := cgroup.Version(ctrl); v != "" {
			in.CgroupControllers = append(in.CgroupControllers, ctrl)
			versions[strings.TrimPrefix(v, "v")] = true
		}
	}
	switch {
	case versions["2"] && versions["1"]:
		in.CgroupVersion = "1+2 (hybrid)"
	case versions["2"]:
		in.CgroupVersion = "2"
	case versions["1"]:
		in.CgroupVersion = "1"
	default:
		in.CgroupVersion = "none"
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		in.KernelVersion = unix.ByteSliceToString(u.Release[:])
		in.Architecture = unix.ByteSliceToString(u.Machine[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		in.MemTotal = int64(si.Totalram) * int64(si.Unit)
	}
	in.OperatingSystem = osPrettyName()
	if done, err := templateOut(a, *a.opts.(*string), in); done {
		return err
	}
	ctrls := strings.Join(in.CgroupControllers, " ")
	if ctrls == "" {
		ctrls = "none"
	}
	fmt.Fprintf(a.stdout, `Client:
 Version:    %s

Server:
 Containers: %d
  Running: %d
  Paused: %d
  Stopped: %d
 Images: %d
 Storage Driver: %s
 Store Format: %s
 Cgroup Driver: %s
 Cgroup Version: %s
 Cgroup Controllers: %s
 Kernel Version: %s
 Operating System: %s
 OSType: %s
 Architecture: %s
 CPUs: %d
 Total Memory: %s
 Lab Root Dir: %s
`, in.ClientVersion, in.Containers, in.ContainersRunning, in.ContainersPaused, in.ContainersStopped, in.Images,
		in.Driver, in.StoreFormat, in.CgroupDriver, in.CgroupVersion, ctrls, in.KernelVersion, in.OperatingSystem,
		in.OSType, in.Architecture, in.NCPU, units.BytesSize(float64(in.MemTotal)), in.DockerRootDir)
	return nil
}

func osPrettyName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "unknown"
}
