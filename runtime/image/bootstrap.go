package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/archive"
	"lab/runtime/reference"
)

// BootstrapEpoch is the fixed creation time of bootstrapped base images, so that one
// host binary always yields the same image ID.
var BootstrapEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// DefaultPath is the PATH Docker gives a container whose image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// ErrNoBusybox is returned when the host has no statically linked busybox.
var ErrNoBusybox = errors.New("no static busybox on this host: install the Debian package busybox-static (apt-get install busybox-static)")

// FindBusybox returns the host's static busybox binary.
func FindBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if isStatic(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("busybox"); err == nil && isStatic(p) {
		return p, nil
	}
	return "", ErrNoBusybox
}

// isStatic checks the ELF program headers for PT_INTERP: a dynamic busybox would not
// run inside an image that has no libc.
func isStatic(p string) bool {
	b, err := os.ReadFile(p)
	if err != nil || len(b) < 64 || string(b[:4]) != "\x7fELF" || b[4] != 2 {
		return false
	}
	le := func(o, n int) uint64 {
		var v uint64
		for i := n - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[o+i])
		}
		return v
	}
	phoff, phentsize, phnum := int(le(32, 8)), int(le(54, 2)), int(le(56, 2))
	for i := 0; i < phnum; i++ {
		o := phoff + i*phentsize
		if o+4 > len(b) {
			return false
		}
		if le(o, 4) == 3 { // PT_INTERP
			return false
		}
	}
	return true
}

// Bootstrap builds busybox:latest from the host's static busybox: /bin/busybox with
// every applet linked beside it, /etc/passwd, /etc/group, /tmp and /root. Entries are
// sorted and timestamps fixed, so the same binary always gives the same image ID.
func (s *Store) Bootstrap(ctx context.Context, name string) (*Image, error) {
	if name != "busybox" {
		return nil, fmt.Errorf("bootstrap %q: only \"busybox\" can be bootstrapped", name)
	}
	bb, err := FindBusybox()
	if err != nil {
		return nil, err
	}
	rootfs, err := os.MkdirTemp("", "lab-bootstrap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(rootfs)
	if err := buildBusyboxRootfs(bb, rootfs); err != nil {
		return nil, fmt.Errorf("bootstrap busybox: %w", err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.WriteTree(ctx, pw, rootfs, archive.TreeOptions{ModTime: &BootstrapEpoch, RootOwned: true}))
	}()
	layer, err := s.ImportLayer(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return nil, fmt.Errorf("bootstrap busybox: %w", err)
	}
	created := BootstrapEpoch
	cfg := ocispec.Image{
		Created:  &created,
		Platform: ocispec.Platform{Architecture: goarch(), OS: "linux"},
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=" + DefaultPath},
			Cmd: []string{"sh"},
		},
		History: []ocispec.History{{Created: &created, CreatedBy: "lab bootstrap busybox (" + bb + ")"}},
	}
	ref, _ := reference.Parse("busybox:latest")
	return s.Create(cfg, []Layer{layer}, &ref)
}

func buildBusyboxRootfs(bb, root string) error {
	for _, d := range []struct {
		p    string
		mode os.FileMode
	}{{"bin", 0o755}, {"etc", 0o755}, {"tmp", 0o1777}, {"root", 0o700}} {
		if err := os.Mkdir(filepath.Join(root, d.p), d.mode); err != nil {
			return err
		}
		if err := os.Chmod(filepath.Join(root, d.p), d.mode); err != nil {
			return err
		}
	}
	src, err := os.Open(bb)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(root, "bin", "busybox"), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
	}
	for p, c := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}
