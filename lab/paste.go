package lab

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// Bracketed paste (xterm's mode 2004): with it on, a terminal wraps pasted text in
// these markers. readline redraws the whole line for every character it receives, so
// a 200 KB paste typed into it takes minutes; the REPL takes pasted text past readline
// instead and runs it line by line.
const (
	pasteOn    = "\x1b[?2004h"
	pasteOff   = "\x1b[?2004l"
	pasteStart = "\x1b[200~"
	pasteEnd   = "\x1b[201~"
)

// pasteReader sits between the terminal and readline. Outside a paste it passes bytes
// on; a paste is kept aside and replaced by one Enter, which makes readline return the
// line typed so far; the REPL then takes the paste with take.
type pasteReader struct {
	r       io.Reader
	mu      sync.Mutex
	pending []byte // bytes for readline
	carry   []byte // a read's tail that may begin a marker
	inPaste bool
	paste   bytes.Buffer // the paste being received
	done    []string     // completed pastes, for take
}

func (p *pasteReader) Read(b []byte) (int, error) {
	buf := make([]byte, 32<<10)
	for {
		p.mu.Lock()
		if len(p.pending) > 0 {
			n := copy(b, p.pending)
			p.pending = p.pending[n:]
			p.mu.Unlock()
			return n, nil
		}
		p.mu.Unlock()
		// Not under the lock: take must not wait for the user's next key.
		n, err := p.r.Read(buf)
		p.mu.Lock()
		if n > 0 {
			p.feed(buf[:n])
		}
		if err != nil && len(p.pending) == 0 {
			if len(p.carry) == 0 || p.inPaste {
				p.mu.Unlock()
				return 0, err
			}
			p.pending, p.carry = p.carry, nil
		}
		p.mu.Unlock()
	}
}

// feed sorts data into what readline gets and what is pasted.
func (p *pasteReader) feed(data []byte) {
	data = append(p.carry, data...)
	p.carry = nil
	for len(data) > 0 {
		marker := pasteStart
		if p.inPaste {
			marker = pasteEnd
		}
		i := bytes.Index(data, []byte(marker))
		if i < 0 {
			// Keep back a tail that could be the start of a split marker.
			keep := 0
			for k := len(marker) - 1; k > 0; k-- {
				if bytes.HasSuffix(data, []byte(marker[:k])) {
					keep = k
					break
				}
			}
			p.emit(data[:len(data)-keep])
			p.carry = append([]byte(nil), data[len(data)-keep:]...)
			return
		}
		p.emit(data[:i])
		data = data[i+len(marker):]
		if p.inPaste {
			p.done = append(p.done, p.paste.String())
			p.paste.Reset()
			p.pending = append(p.pending, '\r')
		}
		p.inPaste = !p.inPaste
	}
}

func (p *pasteReader) emit(b []byte) {
	if p.inPaste {
		p.paste.Write(b)
	} else {
		p.pending = append(p.pending, b...)
	}
}

// take returns the pastes completed since the last call, joined, with the terminal's
// carriage returns as newlines.
func (p *pasteReader) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := strings.Join(p.done, "")
	p.done = nil
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// chunkScanner follows the nesting of Lua source line by line (blocks, brackets, long
// strings and comments), so the REPL need not compile a growing multi-line chunk after
// every line to learn that it is still open: that made a pasted 10,000-line table
// quadratic. It only says when compiling is worth trying; the parser decides.
type chunkScanner struct {
	depth int    // open blocks and brackets
	long  int    // level of the open long string or comment, or -1
	quote byte   // the open short string's quote after a trailing backslash, or 0
	size  int    // bytes seen
	bad   bool   // something the scanner cannot follow: compile every line
	word  []byte // scratch
}

func newChunkScanner() *chunkScanner { return &chunkScanner{long: -1} }

// open reports whether the chunk so far is surely unfinished.
func (c *chunkScanner) open() bool {
	return !c.bad && (c.depth > 0 || c.long >= 0 || c.quote != 0)
}

// longBracket returns the level of a long bracket [==[ starting at s[i], or -1.
func longBracket(s string, i int, open byte) int {
	j := i + 1
	for j < len(s) && s[j] == '=' {
		j++
	}
	if j < len(s) && s[j] == open {
		return j - i - 1
	}
	return -1
}

func (c *chunkScanner) feed(line string) {
	c.size += len(line) + 1
	s := line
	i := 0
	for i < len(s) {
		if c.long >= 0 {
			close := "]" + strings.Repeat("=", c.long) + "]"
			k := strings.Index(s[i:], close)
			if k < 0 {
				return
			}
			i += k + len(close)
			c.long = -1
			continue
		}
		if c.quote != 0 {
			i = c.shortString(s, i, c.quote)
			continue
		}
		ch := s[i]
		switch {
		case ch == '-' && strings.HasPrefix(s[i:], "--"):
			if i+2 < len(s) && s[i+2] == '[' {
				if lvl := longBracket(s, i+2, '['); lvl >= 0 {
					c.long = lvl
					i += 2 + lvl + 2
					continue
				}
			}
			return
		case ch == '[':
			if lvl := longBracket(s, i, '['); lvl >= 0 {
				c.long = lvl
				i += lvl + 2
				continue
			}
			c.depth++
		case ch == '(' || ch == '{':
			c.depth++
		case ch == ')' || ch == '}' || ch == ']':
			c.depth--
		case ch == '"' || ch == '\'':
			i = c.shortString(s, i+1, ch)
			continue
		case ch == '_' || ch|0x20 >= 'a' && ch|0x20 <= 'z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j]|0x20 >= 'a' && s[j]|0x20 <= 'z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			switch s[i:j] {
			case "function", "do", "if", "repeat":
				c.depth++
			case "end", "until":
				c.depth--
			}
			i = j
			continue
		}
		i++
	}
}

// shortString skips a quoted string from s[i] (just past the opening quote) and
// returns the index after it; a string still open at the end of the line stays open
// only after a backslash (Lua 5.1's escaped newline).
func (c *chunkScanner) shortString(s string, i int, q byte) int {
	c.quote = 0
	for i < len(s) {
		switch s[i] {
		case '\\':
			if i+1 == len(s) {
				c.quote = q
				return len(s)
			}
			i += 2
			continue
		case q:
			return i + 1
		}
		i++
	}
	c.bad = true // an unfinished string: let the parser say so
	return len(s)
}
