package engine_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"lab/runtime/engine"
	"lab/runtime/image"
)

// The benchmarks measure the in-process cost of lab's primitives; bench/run.sh runs
// them and turns their output into bench/results.md. They report medians beside Go's
// mean because one slow run on a shared machine moves the mean a lot and the median
// hardly at all.

// benchEngine opens a fresh state directory with busybox bootstrapped.
func benchEngine(tb testing.TB) *engine.Engine {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: containers use real namespaces and overlay mounts")
	}
	if _, err := image.FindBusybox(); err != nil {
		tb.Skip(err)
	}
	e, err := engine.Open(benchDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Bootstrap(context.Background(), "busybox"); err != nil {
		tb.Fatal(err)
	}
	return e
}

// benchDir is a scratch directory for big files. LAB_BENCH_DIR puts it on a chosen
// filesystem (the store's throughput is the disk's, not tmpfs's).
func benchDir(tb testing.TB) string {
	tb.Helper()
	base := os.Getenv("LAB_BENCH_DIR")
	if base == "" {
		return tb.TempDir()
	}
	d, err := os.MkdirTemp(base, "bench-")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// durations collects per-operation times for a median.
type durations []time.Duration

func (d durations) median() time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append(durations{}, d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (d durations) report(b *testing.B) {
	b.ReportMetric(float64(d.median().Microseconds())/1000, "median-ms")
}

// rssKiB reads this process's resident set size from /proc/self/status.
func rssKiB(tb testing.TB) int64 {
	tb.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no VmRSS in /proc/self/status")
	return 0
}

var trueRun = engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}, AutoRemove: true}

// BenchmarkRunRm is `lab run --rm busybox /bin/true` without the CLI process: create,
// start, wait, remove, all in one process, as lab.run does from a Lua script. It
// reports the process's RSS before the first and after the last run, so that
// -benchtime=1000x shows what 1000 runs cost in memory.
func BenchmarkRunRm(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	// One run outside the timer: it makes the init layer and warms the caches.
	if _, err := e.Run(ctx, trueRun, engine.StartOptions{}); err != nil {
		b.Fatal(err)
	}
	rss0 := rssKiB(b)
	times := make(durations, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, err := e.Run(ctx, trueRun, engine.StartOptions{})
		times = append(times, time.Since(t0))
		if err != nil || c.State.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, c)
		}
	}
	b.StopTimer()
	times.report(b)
	rss1 := rssKiB(b)
	b.ReportMetric(float64(rss0)/1024, "rss-start-MiB")
	b.ReportMetric(float64(rss1)/1024, "rss-end-MiB")
}

// BenchmarkRunKept is a run whose container is kept (no --rm): the cost of the durable
// final record, without the removal.
func BenchmarkRunKept(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	o := trueRun
	o.AutoRemove = false
	times := make(durations, 0, b.N)
	var ids []string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		c, err := e.Run(ctx, o, engine.StartOptions{})
		times = append(times, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	b.StopTimer()
	times.report(b)
	for _, id := range ids {
		e.Remove(id, true)
	}
}

// bigImage commits a container that wrote size bytes of random data (so no filesystem
// can compress or dedupe it) as "big", an image of busybox plus that layer.
func bigImage(b *testing.B, e *engine.Engine, size int) {
	b.Helper()
	ctx := context.Background()
	c, err := e.Run(ctx, writeRun(size, "/big"), engine.StartOptions{})
	if err != nil || c.State.ExitCode != 0 {
		b.Fatalf("write big file: %v %+v", err, c)
	}
	if _, err := e.Commit(ctx, c.ID, engine.CommitOptions{Ref: "big"}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.Remove(c.ID, false); err != nil {
		b.Fatal(err)
	}
}

func writeRun(size int, path string) engine.CreateOptions {
	mib := strconv.Itoa(size >> 20)
	return engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/dd", "if=/dev/urandom", "of=" + path, "bs=1048576", "count=" + mib}}
}

const bigSize = 100 << 20

// BenchmarkCommitOneFile commits a container that changed one small file of an image
// holding 100 MB: the cost must follow the change, not the image.
func BenchmarkCommitOneFile(b *testing.B) {
	e := benchEngine(b)
	bigImage(b, e, bigSize)
	o := engine.CreateOptions{Image: "big", Cmd: []string{"/bin/sh", "-c", "echo changed > /etc/motd"}}
	benchCommits(b, e, o)
}

// benchCommits times only the commit of b.N containers run with o (each run, and the
// removal of the container and its image, happens off the clock) and reports them.
func benchCommits(b *testing.B, e *engine.Engine, o engine.CreateOptions) durations {
	ctx := context.Background()
	times := make(durations, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, err := e.Run(ctx, o, engine.StartOptions{})
		if err != nil || c.State.ExitCode != 0 {
			b.Fatalf("run: %v %+v", err, c)
		}
		b.StartTimer()
		t0 := time.Now()
		img, err := e.Commit(ctx, c.ID, engine.CommitOptions{})
		times = append(times, time.Since(t0))
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Remove(c.ID, false); err != nil {
			b.Fatal(err)
		}
		if _, err := e.RemoveImage(img.ID.String(), false); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	times.report(b)
	return times
}

// BenchmarkCommit100MB commits a container that wrote 100 MB: the throughput of
// turning an upper directory into a stored (uncompressed) layer.
func BenchmarkCommit100MB(b *testing.B) {
	e := benchEngine(b)
	o := writeRun(bigSize, "/big")
	b.SetBytes(bigSize)
	times := benchCommits(b, e, o)
	b.ReportMetric(float64(bigSize)/(1<<20)/times.median().Seconds(), "median-MB/s")
}

// rootfsTar writes a 100 MB rootfs tar: busybox's tree plus 100 files of 1 MB random
// data (a realistic mix of many small entries and bulk data).
func rootfsTar(b *testing.B, e *engine.Engine, path string) {
	b.Helper()
	var buf bytes.Buffer
	if err := e.Export(context.Background(), mustCreate(b, e), &buf); err != nil {
		b.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	// Copy the exported entries, then append the bulk files before the end marker.
	tr := tar.NewReader(&buf)
	tw := tar.NewWriter(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			b.Fatal(err)
		}
	}
	tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755})
	chunk := make([]byte, 1<<20)
	for i := 0; i < 100; i++ {
		rand.Read(chunk)
		tw.WriteHeader(&tar.Header{Name: "data/f" + strconv.Itoa(i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(chunk))})
		tw.Write(chunk)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
}

func mustCreate(b *testing.B, e *engine.Engine) string {
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}})
	if err != nil {
		b.Fatal(err)
	}
	return c.ID
}

// BenchmarkImport100MB is `lab import` of a 100 MB rootfs tar, in process.
func BenchmarkImport100MB(b *testing.B) {
	e := benchEngine(b)
	ctx := context.Background()
	path := filepath.Join(benchDir(b), "rootfs.tar")
	rootfsTar(b, e, path)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	times := make(durations, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		img, err := e.Import(ctx, f, "imported", "", nil)
		times = append(times, time.Since(t0))
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if _, err := e.RemoveImage(img.ID.String(), true); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.StopTimer()
	times.report(b)
	b.ReportMetric(float64(st.Size())/(1<<20)/times.median().Seconds(), "median-MB/s")
}
