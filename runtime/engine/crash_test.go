package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"lab/runtime/engine"
)

// TestCrashSafety kills the lab CLI with SIGKILL at random moments of import, commit,
// tag, rmi, rm and run (over 200 kills), and checks after each kill and at the end
// that the store kept its promises: every blob hashes to its name, index.json and
// every record parse, no image names a missing blob, and every image committed before
// a kill (and not itself being removed) is still listed and still runs.
func TestCrashSafety(t *testing.T) {
	e := newStore(t)
	root := e.Root
	ctx := context.Background()
	// At least landed of the kills must land mid-command (the rest find their
	// command already finished); short mode lowers both.
	kills, landed := 250, 200
	if testing.Short() {
		kills, landed = 60, 45
	}
	tmp := t.TempDir()

	// An import big enough that a random kill often lands inside it, and runnable:
	// busybox's files plus 6 MiB of data.
	var entries []tarEntry
	for i := 0; i < 24; i++ {
		b := make([]byte, 256<<10)
		rand.Read(b)
		entries = append(entries, file(fmt.Sprintf("data/f%02d", i), string(b)))
	}
	bigTar := filepath.Join(tmp, "big.tar")
	if err := os.WriteFile(bigTar, withEntries(t, exportBusybox(t, e), entries...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A container with changes to commit.
	mustCLI(t, root, "run", "--name", "src", "busybox", "sh", "-c", "head -c 3000000 /dev/urandom > /blob; mkdir -p /a/b; echo x > /a/b/c; rm /etc/group")

	known := map[string]string{"busybox:latest": ""} // tag -> image ID, for images known to be committed
	for tag := range known {
		img, _ := e.Images.Get(tag)
		known[tag] = img.ID.String()
	}
	serial := 0
	next := func(prefix string) string {
		serial++
		return fmt.Sprintf("%s:%d", prefix, serial)
	}
	randomTag := func(prefix string) string {
		var tags []string
		for tag := range known {
			if strings.HasPrefix(tag, prefix) {
				tags = append(tags, tag)
			}
		}
		if len(tags) == 0 {
			return ""
		}
		return tags[mrand.IntN(len(tags))]
	}
	type op struct {
		name string
		args func() (args []string, onSuccess func(out string))
	}
	ops := []op{
		{"import", func() ([]string, func(string)) {
			tag := next("imp")
			return []string{"import", bigTar, tag}, func(out string) { known[tag] = strings.TrimSpace(out) }
		}},
		{"commit", func() ([]string, func(string)) {
			tag := next("com")
			return []string{"commit", "src", tag}, func(out string) { known[tag] = strings.TrimSpace(out) }
		}},
		{"tag", func() ([]string, func(string)) {
			src := randomTag("")
			tag := next("tag")
			return []string{"tag", src, tag}, func(string) { known[tag] = known[src] }
		}},
		{"rmi", func() ([]string, func(string)) {
			tag := randomTag("imp")
			if tag == "" || mrand.IntN(2) == 0 {
				tag = randomTag("com")
			}
			if tag == "" {
				tag = randomTag("tag")
			}
			if tag == "" {
				return []string{"images", "-q"}, func(string) {}
			}
			// It may or may not be gone after a kill: no longer promised.
			delete(known, tag)
			return []string{"rmi", tag}, func(string) {}
		}},
		{"rm", func() ([]string, func(string)) {
			cs, _ := e.Containers.List()
			for _, c := range cs {
				if c.Name != "src" {
					return []string{"rm", "-f", c.ID}, func(string) {}
				}
			}
			return []string{"ps", "-a"}, func(string) {}
		}},
		{"run", func() ([]string, func(string)) {
			return []string{"run", "busybox", "sh", "-c", "echo hi > /f; sleep 0.05"}, func(string) {}
		}},
	}
	// How long each verb takes when left alone (the median of three), so that kills
	// spread over its whole life; the runs also leave committed images to keep.
	span := map[string]time.Duration{}
	for _, o := range ops {
		var ds []time.Duration
		for k := 0; k < 3; k++ {
			args, ok := o.args()
			t0 := time.Now()
			r := labCLI(t, root, nil, args...)
			ds = append(ds, time.Since(t0))
			if r.code == 0 {
				ok(r.stdout)
			}
		}
		slices.Sort(ds)
		span[o.name] = ds[1]
	}
	t.Logf("verb durations: %v; %d images promised", span, len(known))
	// rmi is rarer than what makes images, so that the promised set grows.
	weights := map[string]int{"import": 2, "commit": 3, "tag": 3, "rmi": 1, "rm": 1, "run": 1}
	var deck []op
	for _, o := range ops {
		for k := 0; k < weights[o.name]; k++ {
			deck = append(deck, o)
		}
	}

	died, finished := 0, 0
	for i := 0; i < kills || (died < landed && i < 4*kills); i++ {
		o := deck[mrand.IntN(len(deck))]
		args, onSuccess := o.args()
		// Between a third and 1.2 times the verb's usual duration: past most of the
		// process start-up, and now and then after the verb is done.
		d := span[o.name]
		delay := d/3 + time.Duration(mrand.Int64N(int64(d*87/100)+1))
		cmd := labCmd(root, args...)
		var out bytes.Buffer
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			died++
		} else if err == nil {
			finished++
			onSuccess(out.String())
		}
		if i%20 == 0 || i == kills-1 {
			checkStore(t, e, known, false)
		} else {
			checkKnown(t, e, known)
		}
		if t.Failed() {
			t.Fatalf("store broken after kill %d (lab %v)", i, args)
		}
	}
	t.Logf("%d kills landed mid-command, %d commands finished first; %d images promised", died, finished, len(known))
	if died < landed {
		t.Errorf("only %d kills landed mid-command", died)
	}
	checkStore(t, e, known, true)
	// Repair removes every leftover; a second check finds none.
	r, err := e.Fsck(ctx, engine.FsckOptions{Repair: true})
	if err != nil || !r.OK() {
		t.Fatalf("fsck --repair: %v %+v", err, r)
	}
	t.Logf("fsck --repair: %d actions, %d bytes reclaimed", len(r.Repaired), r.Reclaimed)
	r, err = e.Fsck(ctx, engine.FsckOptions{})
	if err != nil || !r.OK() || len(r.Leftovers) != 0 {
		t.Fatalf("after repair: %v %+v", err, r)
	}
	checkKnown(t, e, known)
	// The store is usable as before: run, commit, remove.
	mustCLI(t, root, "run", "--rm", "busybox", "true")
	mustCLI(t, root, "commit", "src", "after:crash")
	mustCLI(t, root, "rmi", "after:crash")
	mustCLI(t, root, "rm", "src")
	mustCLI(t, root, "container", "prune", "-f")
}

// exportBusybox is busybox's root filesystem as a tar, made with lab export as a user
// would.
func exportBusybox(t *testing.T, e *engine.Engine) []byte {
	t.Helper()
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Remove(c.ID, true)
	var exp bytes.Buffer
	if err := e.Export(context.Background(), c.ID, &exp); err != nil {
		t.Fatal(err)
	}
	return exp.Bytes()
}

// withEntries appends entries to the tar base.
func withEntries(t *testing.T, base []byte, extra ...tarEntry) []byte {
	t.Helper()
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	tr := tar.NewReader(bytes.NewReader(base))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, x := range extra {
		h := x.hdr
		h.Format = tar.FormatPAX
		h.ModTime = time.Unix(1700000000, 0)
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(tw, x.body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// checkKnown checks that every promised tag still names its image.
func checkKnown(t *testing.T, e *engine.Engine, known map[string]string) {
	t.Helper()
	for tag, id := range known {
		img, err := e.Images.Get(tag)
		if err != nil {
			t.Errorf("committed image %s lost: %v", tag, err)
			continue
		}
		if id != "" && img.ID.String() != id {
			t.Errorf("%s names %s, was %s", tag, img.ID, id)
		}
	}
}

// checkStore runs fsck (blobs re-hashed, index, manifests, configs and records
// parsed, no missing blob) and, with runAll, runs every promised image.
func checkStore(t *testing.T, e *engine.Engine, known map[string]string, runAll bool) {
	t.Helper()
	r, err := e.Fsck(context.Background(), engine.FsckOptions{})
	if err != nil {
		t.Fatalf("fsck: %v", err)
	}
	for _, p := range r.Problems {
		t.Errorf("fsck: %s", p)
	}
	checkKnown(t, e, known)
	if !runAll {
		return
	}
	ran := map[string]bool{}
	for tag, id := range known {
		if ran[id] {
			continue
		}
		ran[id] = true
		if out, code := runOut(t, e, tag, "sh", "-c", "echo ok"); code != 0 || out != "ok\n" {
			t.Errorf("image %s does not run: exit %d, %q", tag, code, out)
		}
	}
}
