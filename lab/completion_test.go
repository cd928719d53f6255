package lab_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The bash script completes verbs, flags, container names and image refs in a real
// bash, calling lab (here the test binary) for names.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash on this host")
	}
	root := newRoot(t)
	mustRun(t, root, "create", "--name", "alpha1", "busybox", "true")
	mustRun(t, root, "create", "--name", "beta1", "busybox", "true")
	mustRun(t, root, "tag", "busybox", "mytools:2")
	script := filepath.Join(t.TempDir(), "lab.bash")
	if err := os.WriteFile(script, []byte(mustRun(t, root, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(words ...string) []string {
		t.Helper()
		// COMP_WORDS[0] is how the user called lab; the script calls it back for names.
		src := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _lab; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command(bash, append([]string{"-c", src, "bash", script, os.Args[0]}, words...)...)
		cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("complete %v: %v", words, err)
		}
		return strings.Fields(string(out))
	}
	cases := []struct {
		words []string
		want  string
	}{
		{[]string{"ver"}, "version"},
		{[]string{"ps", "--fo"}, "--format"},
		{[]string{"ps", "--"}, "--all --filter --format --help --last --latest --no-trunc --quiet"},
		{[]string{"stop", "-"}, "--help --signal -s --time --timeout -t"},
		{[]string{"rm", ""}, "alpha1 beta1"},
		{[]string{"start", "al"}, "alpha1"},
		{[]string{"run", "my"}, "mytools:2"},
		{[]string{"rmi", ""}, "busybox:latest mytools:2"},
		{[]string{"container", "l"}, "list logs ls"},
		{[]string{"container", "rm", "be"}, "beta1"},
		{[]string{"image", "rm", "bu"}, "busybox:latest"},
		{[]string{"run", "--name", ""}, ""},
	}
	for _, tc := range cases {
		got := complete(tc.words...)
		want := strings.Fields(tc.want)
		if strings.Join(sortedCopy(got), " ") != strings.Join(sortedCopy(want), " ") {
			t.Errorf("complete %q: got %q, want %q", tc.words, got, want)
		}
	}
	if r := labIn(t, root, "", "completion", "zsh"); r.code != 0 || !strings.HasPrefix(r.stdout, "#compdef lab\n") || !strings.Contains(r.stdout, "complete -F _lab lab") {
		t.Errorf("zsh: %+v", r)
	}
	if r := labIn(t, root, "", "completion", "fish"); r.code != 1 || !strings.Contains(r.stderr, "unsupported shell") {
		t.Errorf("fish: %+v", r)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
