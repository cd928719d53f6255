package reference

import (
	// go-digest only accepts algorithms whose hash implementation is linked
	// into the binary; without these every digest would be "unsupported".
	_ "crypto/sha256"
	_ "crypto/sha512"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

const (
	// DefaultDomain is the registry a reference without a domain belongs to.
	DefaultDomain = "docker.io"
	// DefaultTag is added when a reference names neither a tag nor a digest.
	DefaultTag = "latest"

	legacyDomain   = "index.docker.io"
	officialPrefix = "library/"
	maxNameLen     = 255
	maxTagLen      = 128
)

var (
	// ErrInvalidFormat is the catch-all Docker reports for malformed
	// references; more specific errors wrap it where Docker's do.
	ErrInvalidFormat = errors.New("invalid reference format")
	// ErrNameTooLong reports a fully qualified name over 255 characters.
	ErrNameTooLong = errors.New("repository name must not be more than 255 characters")
	// ErrTagWithDigest is returned by ParseTagged: a digest pins content, so
	// it cannot name the target of a new tag.
	ErrTagWithDigest = errors.New("refusing to create a tag with a digest reference")
)

// Ref is a normalised image reference. Domain and Path are always set for a
// Ref returned by Parse; Tag is empty only when Digest is set.
type Ref struct {
	Domain string // "docker.io" unless the reference names another registry
	Path   string // "library/busybox" for official images
	Tag    string
	Digest string // "sha256:<hex>" or ""
}

// Parse reads a reference the way Docker's ParseNormalizedNamed does, then
// adds the "latest" tag when neither a tag nor a digest was given.
func Parse(s string) (Ref, error) {
	r, err := parse(s)
	if err != nil {
		return Ref{}, err
	}
	if r.Tag == "" && r.Digest == "" {
		r.Tag = DefaultTag
	}
	return r, nil
}

// ParseTagged parses the target of commit, tag or build -t, which must be a
// name and tag: a digest there would claim content the image does not have.
func ParseTagged(s string) (Ref, error) {
	r, err := Parse(s)
	if err != nil {
		return Ref{}, err
	}
	if r.Digest != "" {
		return Ref{}, ErrTagWithDigest
	}
	return r, nil
}

// LooksLikeID reports whether s could be an image ID or a prefix of one:
// lowercase hex, optionally after "sha256:". Docker resolves such a string
// as a name first and falls back to an ID prefix only when no image has that
// name, so callers should do the same; a 64-hex string never parses as a name
// and a "sha256:" string parses only as the odd repository "sha256", so those
// are in practice always IDs.
func LooksLikeID(s string) bool {
	return isLowerHex(strings.TrimPrefix(s, "sha256:"), 1, 64)
}

// String returns the familiar form Docker prints: the default domain and the
// "library/" namespace are dropped.
func (r Ref) String() string {
	return r.withSuffix(r.Repository())
}

// Repository returns the familiar name without tag or digest, as in the
// REPOSITORY column of `docker images`.
func (r Ref) Repository() string {
	if r.Domain != DefaultDomain {
		return r.qualifiedName()
	}
	p := r.Path
	if rest, ok := strings.CutPrefix(p, officialPrefix); ok && !strings.Contains(rest, "/") {
		p = rest
	}
	// Docker would print "docker.io/foo.bar/baz" as "foo.bar/baz", which
	// then reads back as registry foo.bar; keeping the domain in that case
	// makes every printed name parse back to the same image.
	if first, _, nested := strings.Cut(p, "/"); nested && looksLikeDomain(first) {
		return r.qualifiedName()
	}
	return p
}

// Full returns the fully qualified form, e.g.
// "docker.io/library/busybox:latest", which is unambiguous as a store key.
func (r Ref) Full() string {
	return r.withSuffix(r.qualifiedName())
}

func (r Ref) qualifiedName() string {
	if r.Domain == "" {
		return r.Path
	}
	return r.Domain + "/" + r.Path
}

func (r Ref) withSuffix(name string) string {
	if r.Tag != "" {
		name += ":" + r.Tag
	}
	if r.Digest != "" {
		name += "@" + r.Digest
	}
	return name
}

// parse follows Docker's order of checks so that the first error reported
// for a bad reference is the same one Docker would report.
func parse(s string) (Ref, error) {
	if isLowerHex(s, 64, 64) {
		return Ref{}, fmt.Errorf("invalid repository name (%s), cannot specify 64-byte hexadecimal strings", s)
	}
	domain, rest := splitDomain(s)

	// Docker checks case on everything before the first colon, which may
	// include an "@algorithm" part; the message keeps that quirk.
	remote := rest
	if i := strings.IndexByte(rest, ':'); i >= 0 {
		remote = rest[:i]
	}
	if strings.ToLower(remote) != remote {
		return Ref{}, fmt.Errorf("%w: repository name (%s) must be lowercase", ErrInvalidFormat, remote)
	}

	if !validDomain(domain) {
		return Ref{}, ErrInvalidFormat
	}
	name, dgst, hasDigest := strings.Cut(rest, "@")
	if hasDigest && !digestShape(dgst) {
		return Ref{}, ErrInvalidFormat
	}
	name, tag, hasTag := strings.Cut(name, ":")
	if hasTag && !validTag(tag) {
		return Ref{}, ErrInvalidFormat
	}
	if !validPath(name) {
		return Ref{}, ErrInvalidFormat
	}
	if len(domain)+1+len(name) > maxNameLen {
		return Ref{}, ErrNameTooLong
	}
	if hasDigest {
		if _, err := digest.Parse(dgst); err != nil {
			return Ref{}, err
		}
	}
	return Ref{Domain: domain, Path: name, Tag: tag, Digest: dgst}, nil
}

// splitDomain decides, as Docker does, whether the first component names a
// registry: only if it has a dot or port, is "localhost", or has capitals
// (which a repository path never may).
func splitDomain(s string) (domain, rest string) {
	first, after, nested := strings.Cut(s, "/")
	if nested && (looksLikeDomain(first) || strings.ToLower(first) != first) {
		domain, rest = first, after
	} else {
		domain, rest = DefaultDomain, s
	}
	if domain == legacyDomain {
		domain = DefaultDomain
	}
	if domain == DefaultDomain && !strings.Contains(rest, "/") {
		rest = officialPrefix + rest
	}
	return domain, rest
}

func looksLikeDomain(component string) bool {
	return strings.ContainsAny(component, ".:") || component == "localhost"
}

// validDomain accepts host[:port] where host is a dotted DNS name (capitals
// allowed) or a bracketed IPv6 address.
func validDomain(d string) bool {
	host, port := d, ""
	if strings.HasPrefix(d, "[") {
		end := strings.IndexByte(d, ']')
		if end < 0 {
			return false
		}
		host, port = d[:end+1], d[end+1:]
		if !validIPv6(host) {
			return false
		}
	} else {
		if i := strings.IndexByte(d, ':'); i >= 0 {
			host, port = d[:i], d[i:]
		}
		for _, c := range strings.Split(host, ".") {
			if !validDomainComponent(c) {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	digits, ok := strings.CutPrefix(port, ":")
	return ok && digits != "" && strings.Trim(digits, "0123456789") == ""
}

func validIPv6(h string) bool {
	inner := strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if inner == "" {
		return false
	}
	for i := 0; i < len(inner); i++ {
		if !isHexDigit(inner[i]) && inner[i] != ':' {
			return false
		}
	}
	return true
}

func validDomainComponent(c string) bool {
	if c == "" || !isAlnum(c[0]) || !isAlnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !isAlnum(c[i]) && c[i] != '-' {
			return false
		}
	}
	return true
}

func validPath(p string) bool {
	for _, c := range strings.Split(p, "/") {
		if !validPathComponent(c) {
			return false
		}
	}
	return true
}

// validPathComponent implements [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*.
func validPathComponent(c string) bool {
	if c == "" || !isLowerAlnum(c[0]) || !isLowerAlnum(c[len(c)-1]) {
		return false
	}
	for i := 0; i < len(c); {
		if isLowerAlnum(c[i]) {
			i++
			continue
		}
		// A separator run; the ends are alphanumeric, so it is followed by
		// one and only its shape needs checking.
		j := i
		for j < len(c) && !isLowerAlnum(c[j]) {
			j++
		}
		if !validSeparator(c[i:j]) {
			return false
		}
		i = j
	}
	return true
}

func validSeparator(s string) bool {
	switch s {
	case ".", "_", "__":
		return true
	}
	return strings.Trim(s, "-") == ""
}

// validTag implements [\w][\w.-]{0,127}.
func validTag(t string) bool {
	if t == "" || len(t) > maxTagLen || t[0] == '.' || t[0] == '-' {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isWord(t[i]) && t[i] != '.' && t[i] != '-' {
			return false
		}
	}
	return true
}

// digestShape checks the reference grammar for a digest
// (algorithm ":" hex{32,}); whether the algorithm is known and the length
// right is go-digest's call, so its errors surface as Docker's do.
func digestShape(d string) bool {
	alg, hex, ok := strings.Cut(d, ":")
	if !ok || len(hex) < 32 {
		return false
	}
	for i := 0; i < len(hex); i++ {
		if !isHexDigit(hex[i]) {
			return false
		}
	}
	return validAlgorithm(alg)
}

// validAlgorithm implements [A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*.
func validAlgorithm(a string) bool {
	atStart := true
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case atStart:
			if !isAlpha(c) {
				return false
			}
			atStart = false
		case isAlnum(c):
		case strings.IndexByte("-_+.", c) >= 0:
			atStart = true
		default:
			return false
		}
	}
	return !atStart
}

func isLowerHex(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

func isDigit(b byte) bool      { return '0' <= b && b <= '9' }
func isAlpha(b byte) bool      { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }
func isAlnum(b byte) bool      { return isAlpha(b) || isDigit(b) }
func isLowerAlnum(b byte) bool { return 'a' <= b && b <= 'z' || isDigit(b) }
func isWord(b byte) bool       { return isAlnum(b) || b == '_' }
func isHexDigit(b byte) bool {
	return isDigit(b) || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}
