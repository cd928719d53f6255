package container

import (
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
)

// Namer generates adjective_surname names. A Namer with a fixed seed repeats
// its sequence (used by the scenario runner for reproducible transcripts);
// NewNamer(0) seeds from crypto randomness. The zero Namer is usable and
// seeds itself from crypto randomness on first use. A Namer is safe for
// concurrent use.
type Namer struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// NewNamer returns a Namer whose sequence is fixed by seed, or random when
// seed is 0.
func NewNamer(seed uint64) *Namer {
	if seed == 0 {
		return &Namer{rng: randomRand()}
	}
	// PCG wants two words of state; a fixed odd constant for the second
	// keeps distinct seeds on distinct streams.
	return &Namer{rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))}
}

func randomRand() *rand.Rand {
	var b [16]byte
	// crypto/rand.Read never fails on supported platforms (it aborts the
	// program instead), so the error carries no information.
	_, _ = crand.Read(b[:])
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])))
}

// Next returns a name such as "eager_curie".
func (n *Namer) Next() string {
	return n.NextWithSuffix(0)
}

// NextWithSuffix returns a name as Docker does on its retry-th attempt after
// a collision: for retry > 0 a random digit is appended ("eager_curie3") so a
// crowded name space still yields a free name within a few tries.
func (n *Namer) NextWithSuffix(retry int) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.rng == nil {
		n.rng = randomRand()
	}
	name := pickName(n.rng.IntN)
	if retry > 0 {
		name += strconv.Itoa(n.rng.IntN(10))
	}
	return name
}

// pickName takes the random source as a function so tests can force the
// combination that allowedName rejects.
func pickName(intN func(int) int) string {
	for {
		name := adjectives[intN(len(adjectives))] + "_" + surnames[intN(len(surnames))]
		if allowedName(name) {
			return name
		}
	}
}

// maxNameLen is the longest container name: names are file names in the store.
const maxNameLen = 255

// allowedName keeps Docker's one exception: Steve Wozniak is not boring.
func allowedName(name string) bool {
	return name != "boring_wozniak"
}

// ValidName applies Docker's rule for user-chosen container names,
// ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$, so names that Docker refuses are refused
// here with the same message.
func ValidName(s string) error {
	name := s
	if len(name) > 0 && name[0] == '/' {
		name = name[1:]
	}
	ok := len(name) >= 2 && isNameStart(name[0])
	for i := 1; ok && i < len(name); i++ {
		c := name[i]
		ok = isNameStart(c) || c == '_' || c == '.' || c == '-'
	}
	if !ok {
		return fmt.Errorf("invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", s)
	}
	if len(name) > maxNameLen {
		// Docker has no limit, but here a name is a file name in the store.
		return fmt.Errorf("invalid container name (%.40s...): must not be more than %d characters", name, maxNameLen)
	}
	return nil
}

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

var adjectives = []string{
	"admiring", "adoring", "agile", "amazing", "amiable", "ardent", "astute",
	"awesome", "blissful", "bold", "boring", "brave", "bright", "brilliant",
	"busy", "calm", "candid", "careful", "charming", "cheerful", "clever",
	"cool", "courageous", "crafty", "curious", "daring", "dazzling",
	"dedicated", "diligent", "dreamy", "dynamic", "eager", "earnest", "elated",
	"elegant", "eloquent", "epic", "excited", "fearless", "fervent", "festive",
	"focused", "fond", "friendly", "gallant", "generous", "gentle", "gifted",
	"gleeful", "glowing", "gracious", "happy", "hardy", "hopeful", "humble",
	"inspired", "intrepid", "jolly", "jovial", "keen", "kind", "lively",
	"loyal", "lucid", "magical", "mellow", "merry", "mindful", "modest",
	"nifty", "noble", "optimistic", "patient", "peaceful", "placid", "playful",
	"plucky", "polite", "proud", "quick", "quirky", "radiant", "relaxed",
	"resilient", "serene", "sharp", "sincere", "smart", "spirited", "steady",
	"sunny", "tender", "thoughtful", "tidy", "tranquil", "trusting", "upbeat",
	"valiant", "vibrant", "vigilant", "vivid", "warm", "wise", "witty",
	"youthful", "zealous",
}

// surnames are scientists and engineers, chosen so the surname alone is
// unambiguous and plain ASCII.
var surnames = []string{
	"agnesi", "alhazen", "ampere", "archimedes", "avogadro", "babbage",
	"banach", "bardeen", "bartik", "bernoulli", "blackwell", "bohr", "boole",
	"bose", "brahe", "brattain", "burnell", "cannon", "cantor", "carson",
	"carver", "cauchy", "cerf", "chandrasekhar", "chebyshev", "copernicus",
	"cori", "coulomb", "cray", "crick", "curie", "dalton", "darwin",
	"descartes", "diffie", "dijkstra", "dirac", "doppler", "dyson", "edison",
	"einstein", "engelbart", "eratosthenes", "euclid", "euler", "faraday",
	"fermat", "fermi", "feynman", "fibonacci", "fleming", "fourier",
	"franklin", "galileo", "galois", "gauss", "germain", "goldwasser",
	"goodall", "hamilton", "hamming", "hawking", "heisenberg", "hellman",
	"herschel", "hertz", "hilbert", "hoare", "hodgkin", "hollerith", "hooke",
	"hopper", "hubble", "huygens", "hypatia", "jacobi", "jemison", "jennings",
	"joule", "kahn", "kalam", "kapitsa", "kelvin", "kepler", "khorana",
	"kilby", "knuth", "kovalevskaya", "lagrange", "lamarr", "lamport",
	"laplace", "lavoisier", "leakey", "leibniz", "liskov", "lorentz",
	"lovelace", "mach", "marconi", "maxwell", "mcclintock", "meitner",
	"mendel", "mendeleev", "merkle", "milner", "minsky", "mirzakhani",
	"morse", "napier", "nash", "newton", "nightingale", "nobel", "noether",
	"nyquist", "ohm", "pascal", "pasteur", "pauling", "perlman", "planck",
	"poincare", "ptolemy", "raman", "ramanujan", "ritchie", "rivest",
	"rutherford", "sagan", "salk", "sammet", "schrodinger", "shamir",
	"shannon", "shockley", "somerville", "stonebraker", "sutherland",
	"tesla", "tharp", "torvalds", "turing", "volta", "watt", "wiener", "wiles",
	"wirth", "wozniak", "wright", "yalow", "yonath", "zuse",
}
