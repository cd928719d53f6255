package seccomp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// DefaultCached is Default with a copy of each compiled filter kept in dir (under the
// store), because compiling Docker's profile costs about 3 ms, a third of a container
// start, and every `lab run` is a new process. A file is used only if it was made by
// this very lab executable, on this kernel (the profile has kernel-dependent rules),
// for these capabilities, and its checksum holds; anything else is compiled again and
// replaced. A failure to write the cache is not an error.
func DefaultCached(dir string, caps []string) (Program, error) {
	key := strings.Join(caps, ",")
	defaults.Lock()
	p, ok := defaults.byCaps[key]
	defaults.Unlock()
	if ok {
		return p, nil
	}
	id, ok := cacheKey(caps)
	h := sha256.Sum256([]byte(key))
	name := filepath.Join(dir, hex.EncodeToString(h[:8])+".bpf")
	if ok {
		if p := readCache(name, id); p != nil {
			remember(key, p)
			return p, nil
		}
	}
	p, err := Default(caps)
	if err != nil || !ok {
		return p, err
	}
	writeCache(dir, name, id, p)
	return p, nil
}

func remember(key string, p Program) {
	defaults.Lock()
	defer defaults.Unlock()
	if defaults.byCaps == nil {
		defaults.byCaps = map[string]Program{}
	}
	defaults.byCaps[key] = p
}

// cacheKey names what the compiled filter depends on: the executable (which holds the
// profile and the compiler), the kernel release and architecture, the capabilities.
func cacheKey(caps []string) (string, bool) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &st); err != nil {
		return "", false
	}
	var uts unix.Utsname
	if err := unix.Uname(&uts); err != nil {
		return "", false
	}
	return fmt.Sprintf("lab seccomp 1\nexe %d:%d %d %d.%d\nkernel %s %s\ncaps %s\n",
		st.Dev, st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec,
		unix.ByteSliceToString(uts.Release[:]), runtime.GOARCH, strings.Join(caps, ",")), true
}

// A cache file is the key, the hex SHA-256 of key and program, a newline, the program.
func readCache(name, key string) Program {
	b, err := os.ReadFile(name)
	if err != nil || !bytes.HasPrefix(b, []byte(key)) {
		return nil
	}
	rest := b[len(key):]
	if len(rest) < 65 || rest[64] != '\n' {
		return nil
	}
	prog := rest[65:]
	sum := sha256.Sum256(append([]byte(key), prog...))
	if hex.EncodeToString(sum[:]) != string(rest[:64]) || len(prog) == 0 || len(prog)%8 != 0 {
		return nil
	}
	return Program(prog)
}

func writeCache(dir, name, key string, p Program) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	sum := sha256.Sum256(append([]byte(key), p...))
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return
	}
	_, err = f.Write(append(append([]byte(key+hex.EncodeToString(sum[:])), '\n'), p...))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
}
