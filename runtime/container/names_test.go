package container

import (
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

var generatedName = regexp.MustCompile(`^[a-z]+_[a-z]+$`)

func TestNameListsAreWellFormed(t *testing.T) {
	word := regexp.MustCompile(`^[a-z]+$`)
	for _, list := range []struct {
		name  string
		words []string
		min   int
	}{
		{"adjectives", adjectives, 100},
		{"surnames", surnames, 150},
	} {
		if len(list.words) < list.min {
			t.Errorf("%s: %d words, want at least %d", list.name, len(list.words), list.min)
		}
		seen := map[string]bool{}
		for _, w := range list.words {
			if !word.MatchString(w) {
				t.Errorf("%s: %q is not lowercase ascii letters", list.name, w)
			}
			if seen[w] {
				t.Errorf("%s: %q appears twice", list.name, w)
			}
			seen[w] = true
		}
	}
	// The Wozniak rule only matters while both words can be drawn.
	if !slices.Contains(adjectives, "boring") || !slices.Contains(surnames, "wozniak") {
		t.Error(`lists must hold "boring" and "wozniak"`)
	}
}

func TestNextFormat(t *testing.T) {
	n := NewNamer(1)
	for i := 0; i < 1000; i++ {
		if name := n.Next(); !generatedName.MatchString(name) {
			t.Fatalf("Next() = %q, want adjective_surname", name)
		}
	}
}

func TestNextWithSuffix(t *testing.T) {
	n := NewNamer(7)
	withDigit := regexp.MustCompile(`^[a-z]+_[a-z]+[0-9]$`)
	for retry := 1; retry < 50; retry++ {
		if name := n.NextWithSuffix(retry); !withDigit.MatchString(name) {
			t.Fatalf("NextWithSuffix(%d) = %q, want a trailing digit", retry, name)
		}
	}
	for _, retry := range []int{0, -1} {
		if name := n.NextWithSuffix(retry); !generatedName.MatchString(name) {
			t.Fatalf("NextWithSuffix(%d) = %q, want no suffix", retry, name)
		}
	}
}

func TestSeededNamerRepeats(t *testing.T) {
	draw := func(seed uint64) []string {
		n := NewNamer(seed)
		var out []string
		for i := 0; i < 50; i++ {
			out = append(out, n.Next(), n.NextWithSuffix(i%3))
		}
		return out
	}
	a, b := draw(42), draw(42)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 42 gave different sequences:\n%v\n%v", a, b)
	}
	if slices.Equal(a, draw(43)) {
		t.Fatal("seeds 42 and 43 gave the same sequence")
	}
}

func TestRandomNamersDiffer(t *testing.T) {
	a, b := NewNamer(0), NewNamer(0)
	same := 0
	for i := 0; i < 20; i++ {
		if a.Next() == b.Next() {
			same++
		}
	}
	if same == 20 {
		t.Fatal("two crypto-seeded namers produced the same 20 names")
	}
}

func TestZeroNamerWorks(t *testing.T) {
	var n Namer
	if name := n.Next(); !generatedName.MatchString(name) {
		t.Fatalf("zero Namer Next() = %q", name)
	}
}

func TestNamesVary(t *testing.T) {
	n := NewNamer(99)
	seen := map[string]bool{}
	adjs, surs := map[string]bool{}, map[string]bool{}
	for i := 0; i < 2000; i++ {
		name := n.Next()
		seen[name] = true
		adj, sur, _ := strings.Cut(name, "_")
		adjs[adj], surs[sur] = true, true
	}
	if len(seen) < 1800 {
		t.Errorf("2000 draws gave only %d distinct names", len(seen))
	}
	if len(adjs) < len(adjectives)*9/10 || len(surs) < len(surnames)*9/10 {
		t.Errorf("draws used %d adjectives and %d surnames; lists hold %d and %d",
			len(adjs), len(surs), len(adjectives), len(surnames))
	}
}

func TestNeverBoringWozniak(t *testing.T) {
	if allowedName("boring_wozniak") {
		t.Fatal("allowedName accepts boring_wozniak")
	}
	if !allowedName("boring_turing") || !allowedName("eager_wozniak") {
		t.Fatal("allowedName rejects a harmless name")
	}
	// Force the first draw to be boring_wozniak; the next draw must be used.
	draws := []int{
		slices.Index(adjectives, "boring"), slices.Index(surnames, "wozniak"),
		slices.Index(adjectives, "boring"), slices.Index(surnames, "turing"),
	}
	intN := func(int) int {
		v := draws[0]
		draws = draws[1:]
		return v
	}
	if got := pickName(intN); got != "boring_turing" {
		t.Fatalf("pickName after a boring_wozniak draw = %q, want boring_turing", got)
	}
	n := NewNamer(3)
	for i := 0; i < 100000; i++ {
		if n.Next() == "boring_wozniak" {
			t.Fatal("Next() returned boring_wozniak")
		}
	}
}

func TestNamerConcurrentUse(t *testing.T) {
	n := NewNamer(5)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if name := n.NextWithSuffix(i % 2); name == "" {
					t.Error("empty name")
				}
			}
		}()
	}
	wg.Wait()
}

func TestValidName(t *testing.T) {
	valid := []string{
		"ab", "web", "/web", "my-app_1.0", "A1", "0x", "eager_curie3", "a.", "a-",
		"Z__", strings.Repeat("x", 255),
	}
	for _, s := range valid {
		if err := ValidName(s); err != nil {
			t.Errorf("ValidName(%q) = %v, want nil", s, err)
		}
	}
	invalid := []string{
		"", "/", "a", "/a", "//ab", "_ab", ".ab", "-ab", "a b", "a/b", "ab/",
		"caf\u00e9", "a:b", "a@b", "a\n",
	}
	for _, s := range invalid {
		err := ValidName(s)
		if err == nil {
			t.Errorf("ValidName(%q) = nil, want error", s)
			continue
		}
		want := "invalid container name (" + s + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
		if err.Error() != want {
			t.Errorf("ValidName(%q) = %q, want %q", s, err, want)
		}
	}
	// Names are file names in the store: longer than 255 is refused, with the name cut.
	if err := ValidName(strings.Repeat("x", 256)); err == nil || err.Error() != "invalid container name ("+strings.Repeat("x", 40)+"...): must not be more than 255 characters" {
		t.Errorf("a 256-character name: %v", err)
	}
}
