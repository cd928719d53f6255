package luabind

import (
	"context"
	"fmt"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Lua patterns (string.find, match, gmatch, gsub and lab.expect's matches) are matched
// here rather than by gopher-lua's pattern package, whose backtracking cannot be
// stopped: ("a?"):rep(30)..("a"):rep(30) against ("a"):rep(30) takes 2^30 steps, and
// the VM checks its context only between instructions. This matcher backtracks the
// way Lua 5.1's does (the reference manual's §5.4.1 semantics), checks the state's
// context every few thousand steps, and bounds its recursion as Lua 5.4 does.
const (
	maxCaptures      = 32
	maxMatchDepth    = 200  // nested backtracking points (Lua 5.4's MAXCCALLS)
	matchCheckPeriod = 4096 // steps between two looks at the context
	capUnfinished    = -1
	capPosition      = -2
)

// patternError is raised (as a panic inside the matcher, caught by its caller) for a
// malformed pattern or a cancelled context.
type patternError struct{ msg string }

type patCapture struct{ init, len int }

type matcher struct {
	ctx   context.Context
	src   string
	pat   string
	level int
	caps  [maxCaptures]patCapture
	steps int
	depth int
}

func (m *matcher) fail(format string, args ...any) {
	panic(patternError{fmt.Sprintf(format, args...)})
}

// tick counts a step and stops the match once the context is done.
func (m *matcher) tick() {
	m.steps++
	if m.steps%matchCheckPeriod == 0 && m.ctx != nil {
		if err := m.ctx.Err(); err != nil {
			panic(patternError{err.Error()})
		}
	}
}

// classEnd returns the index just past the single-character class starting at p.
func (m *matcher) classEnd(p int) int {
	c := m.pat[p]
	p++
	switch c {
	case '%':
		if p >= len(m.pat) {
			m.fail("malformed pattern (ends with '%%')")
		}
		return p + 1
	case '[':
		if p < len(m.pat) && m.pat[p] == '^' {
			p++
		}
		// The first character of a set is itself even when it is ']'.
		for {
			if p >= len(m.pat) {
				m.fail("malformed pattern (missing ']')")
			}
			c := m.pat[p]
			p++
			if c == '%' {
				if p >= len(m.pat) {
					m.fail("malformed pattern (missing ']')")
				}
				p++
			}
			if p >= len(m.pat) {
				m.fail("malformed pattern (missing ']')")
			}
			if m.pat[p] == ']' {
				return p + 1
			}
		}
	}
	return p
}

func classMatches(c byte, cl byte) bool {
	var res bool
	switch cl | 0x20 {
	case 'a':
		res = isAlpha(c)
	case 'c':
		res = c < 32 || c == 127
	case 'd':
		res = c >= '0' && c <= '9'
	case 'g':
		res = c > 32 && c < 127
	case 'l':
		res = c >= 'a' && c <= 'z'
	case 'p':
		res = c > 32 && c < 127 && !isAlpha(c) && !(c >= '0' && c <= '9')
	case 's':
		res = c == ' ' || (c >= '\t' && c <= '\r')
	case 'u':
		res = c >= 'A' && c <= 'Z'
	case 'w':
		res = isAlpha(c) || (c >= '0' && c <= '9')
	case 'x':
		res = (c >= '0' && c <= '9') || (c|0x20 >= 'a' && c|0x20 <= 'f')
	case 'z':
		res = c == 0
	default:
		return cl == c
	}
	if cl >= 'A' && cl <= 'Z' {
		return !res
	}
	return res
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// setMatches reports whether c is in the set pat[p:ec+1], p at '[' and ec at ']'.
func (m *matcher) setMatches(c byte, p, ec int) bool {
	in := true
	p++
	if m.pat[p] == '^' {
		in = false
		p++
	}
	for ; p < ec; p++ {
		switch {
		case m.pat[p] == '%' && p+1 < ec:
			p++
			if classMatches(c, m.pat[p]) {
				return in
			}
		case p+2 < ec && m.pat[p+1] == '-':
			if m.pat[p] <= c && c <= m.pat[p+2] {
				return in
			}
			p += 2
		case m.pat[p] == c:
			return in
		}
	}
	return !in
}

// single reports whether src[s] matches the class pat[p:ep].
func (m *matcher) single(s, p, ep int) bool {
	if s >= len(m.src) {
		return false
	}
	c := m.src[s]
	switch m.pat[p] {
	case '.':
		return true
	case '%':
		return classMatches(c, m.pat[p+1])
	case '[':
		return m.setMatches(c, p, ep-1)
	}
	return m.pat[p] == c
}

// match matches pat[p:] at src[s:] and returns the end of the match, or -1.
func (m *matcher) match(s, p int) int {
	m.depth++
	if m.depth > maxMatchDepth {
		m.fail("pattern too complex")
	}
	defer func() { m.depth-- }()
	for {
		m.tick()
		if p == len(m.pat) {
			return s
		}
		switch m.pat[p] {
		case '(':
			if p+1 < len(m.pat) && m.pat[p+1] == ')' {
				return m.startCapture(s, p+2, capPosition)
			}
			return m.startCapture(s, p+1, capUnfinished)
		case ')':
			return m.endCapture(s, p+1)
		case '$':
			if p+1 == len(m.pat) {
				if s == len(m.src) {
					return s
				}
				return -1
			}
		case '%':
			if p+1 >= len(m.pat) {
				m.fail("malformed pattern (ends with '%%')")
			}
			switch c := m.pat[p+1]; {
			case c == 'b':
				if s = m.balance(s, p+2); s == -1 {
					return -1
				}
				p += 4
				continue
			case c == 'f':
				p += 2
				if p >= len(m.pat) || m.pat[p] != '[' {
					m.fail("missing '[' after '%%f' in pattern")
				}
				ep := m.classEnd(p)
				var prev, cur byte
				if s > 0 {
					prev = m.src[s-1]
				}
				if s < len(m.src) {
					cur = m.src[s]
				}
				if m.setMatches(prev, p, ep-1) || !m.setMatches(cur, p, ep-1) {
					return -1
				}
				p = ep
				continue
			case c >= '0' && c <= '9':
				if s = m.backref(s, c); s == -1 {
					return -1
				}
				p += 2
				continue
			}
		}
		ep := m.classEnd(p)
		ok := m.single(s, p, ep)
		if ep < len(m.pat) {
			switch m.pat[ep] {
			case '?':
				if ok {
					if r := m.match(s+1, ep+1); r != -1 {
						return r
					}
				}
				p = ep + 1
				continue
			case '*':
				return m.maxExpand(s, p, ep)
			case '+':
				if !ok {
					return -1
				}
				return m.maxExpand(s+1, p, ep)
			case '-':
				return m.minExpand(s, p, ep)
			}
		}
		if !ok {
			return -1
		}
		s++
		p = ep
	}
}

func (m *matcher) maxExpand(s, p, ep int) int {
	i := 0
	for m.single(s+i, p, ep) {
		m.tick()
		i++
	}
	for ; i >= 0; i-- {
		if r := m.match(s+i, ep+1); r != -1 {
			return r
		}
	}
	return -1
}

func (m *matcher) minExpand(s, p, ep int) int {
	for {
		if r := m.match(s, ep+1); r != -1 {
			return r
		}
		if !m.single(s, p, ep) {
			return -1
		}
		s++
	}
}

func (m *matcher) startCapture(s, p, what int) int {
	if m.level >= maxCaptures {
		m.fail("too many captures")
	}
	m.caps[m.level] = patCapture{s, what}
	m.level++
	r := m.match(s, p)
	if r == -1 {
		m.level--
	}
	return r
}

func (m *matcher) endCapture(s, p int) int {
	l := -1
	for i := m.level - 1; i >= 0; i-- {
		if m.caps[i].len == capUnfinished {
			l = i
			break
		}
	}
	if l < 0 {
		m.fail("invalid pattern capture")
	}
	m.caps[l].len = s - m.caps[l].init
	r := m.match(s, p)
	if r == -1 {
		m.caps[l].len = capUnfinished
	}
	return r
}

func (m *matcher) balance(s, p int) int {
	if p+1 >= len(m.pat) {
		m.fail("missing arguments to '%%b'")
	}
	if s >= len(m.src) || m.src[s] != m.pat[p] {
		return -1
	}
	open, close := m.pat[p], m.pat[p+1]
	depth := 1
	for i := s + 1; i < len(m.src); i++ {
		m.tick()
		switch m.src[i] {
		case close:
			if depth--; depth == 0 {
				return i + 1
			}
		case open:
			depth++
		}
	}
	return -1
}

func (m *matcher) backref(s int, c byte) int {
	l := int(c - '1')
	if l < 0 || l >= m.level || m.caps[l].len == capUnfinished {
		m.fail("invalid capture index %%%d", l+1)
	}
	c0 := m.caps[l]
	if len(m.src)-s >= c0.len && m.src[s:s+c0.len] == m.src[c0.init:c0.init+c0.len] {
		return s + c0.len
	}
	return -1
}

// capture returns capture i of a match src[s:e] as a Lua value: a string, or a
// position; with no captures, capture 0 is the whole match.
func (m *matcher) capture(i, s, e int) lua.LValue {
	if i >= m.level {
		if i != 0 {
			m.fail("invalid capture index %%%d", i+1)
		}
		return lua.LString(m.src[s:e])
	}
	c := m.caps[i]
	switch c.len {
	case capUnfinished:
		m.fail("unfinished capture")
	case capPosition:
		return lua.LNumber(c.init + 1)
	}
	return lua.LString(m.src[c.init : c.init+c.len])
}

// captures returns every capture of a match, or the whole match when there are none
// and whole is set.
func (m *matcher) captures(s, e int, whole bool) []lua.LValue {
	n := m.level
	if n == 0 && whole {
		n = 1
	}
	out := make([]lua.LValue, n)
	for i := range out {
		out[i] = m.capture(i, s, e)
	}
	return out
}

// find looks for the pattern from src[init:] and returns the match's bounds, or -1.
func (m *matcher) find(init int) (start, end int) {
	p := 0
	anchor := len(m.pat) > 0 && m.pat[0] == '^'
	if anchor {
		p = 1
	}
	for s := init; s <= len(m.src); s++ {
		m.level = 0
		if e := m.match(s, p); e != -1 {
			return s, e
		}
		if anchor {
			break
		}
	}
	return -1, -1
}

// runMatcher runs f on a matcher for src and pat, turning a pattern error or the
// state's cancellation into a Lua error.
func runMatcher(L *lua.LState, src, pat string, f func(m *matcher)) {
	if msg := tryMatch(L, src, pat, f); msg != "" {
		L.RaiseError("%s", msg)
	}
}

// tryMatch runs f on a matcher and returns the message of the pattern error or
// cancellation that stopped it, or "".
func tryMatch(L *lua.LState, src, pat string, f func(m *matcher)) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(patternError)
			if !ok {
				panic(r)
			}
			msg = pe.msg
		}
	}()
	f(&matcher{ctx: L.Context(), src: src, pat: pat})
	return ""
}

// startIndex turns Lua's init argument (1-based, negative from the end) into an
// index into s, clamped as Lua 5.1 clamps it.
func startIndex(L *lua.LState, n int, s string) int {
	init := 1
	if L.Get(n) != lua.LNil {
		init = checkInt(L, n)
	}
	if init < 0 {
		init += len(s) + 1
	}
	init--
	if init < 0 {
		init = 0
	}
	if init > len(s) {
		init = len(s)
	}
	return init
}

const patternSpecials = "^$*+?.([%-"

func strFind(L *lua.LState) int {
	s, pat := checkString(L, 1), checkString(L, 2)
	init := startIndex(L, 3, s)
	if lua.LVAsBool(L.Get(4)) || !strings.ContainsAny(pat, patternSpecials) {
		i := strings.Index(s[init:], pat)
		if i < 0 {
			L.Push(lua.LNil)
			return 1
		}
		L.Push(lua.LNumber(init + i + 1))
		L.Push(lua.LNumber(init + i + len(pat)))
		return 2
	}
	var vals []lua.LValue
	runMatcher(L, s, pat, func(m *matcher) {
		if st, e := m.find(init); st >= 0 {
			vals = append([]lua.LValue{lua.LNumber(st + 1), lua.LNumber(e)}, m.captures(st, e, false)...)
		}
	})
	if vals == nil {
		L.Push(lua.LNil)
		return 1
	}
	for _, v := range vals {
		L.Push(v)
	}
	return len(vals)
}

func strMatch(L *lua.LState) int {
	s, pat := checkString(L, 1), checkString(L, 2)
	init := startIndex(L, 3, s)
	var vals []lua.LValue
	runMatcher(L, s, pat, func(m *matcher) {
		if st, e := m.find(init); st >= 0 {
			vals = m.captures(st, e, true)
		}
	})
	if vals == nil {
		L.Push(lua.LNil)
		return 1
	}
	for _, v := range vals {
		L.Push(v)
	}
	return len(vals)
}

func strGmatch(L *lua.LState) int {
	s, pat := checkString(L, 1), checkString(L, 2)
	pos := 0
	done := false
	L.Push(L.NewFunction(func(L *lua.LState) int {
		var vals []lua.LValue
		runMatcher(L, s, pat, func(m *matcher) {
			for !done && pos <= len(s) {
				st, e := m.find(pos)
				if st < 0 || (len(pat) > 0 && pat[0] == '^' && st != 0) {
					done = true
					return
				}
				pos = e
				if e == st {
					pos++ // an empty match: go on one character further
				}
				if len(pat) > 0 && pat[0] == '^' {
					done = true
				}
				vals = m.captures(st, e, true)
				return
			}
		})
		for _, v := range vals {
			L.Push(v)
		}
		return len(vals)
	}))
	return 1
}

func strGsub(L *lua.LState) int {
	s, pat := checkString(L, 1), checkString(L, 2)
	repl := L.Get(3)
	switch repl.(type) {
	case lua.LString, lua.LNumber, *lua.LTable, *lua.LFunction:
	default:
		argError(L, 3, "string/function/table expected, got "+typeName(repl))
	}
	maxN := len(s) + 1
	if L.Get(4) != lua.LNil {
		maxN = checkInt(L, 4)
	}
	anchor := len(pat) > 0 && pat[0] == '^'
	p := 0
	if anchor {
		p = 1
	}
	var b strings.Builder
	n, src := 0, 0
	runMatcher(L, s, pat, func(m *matcher) {
		for n < maxN {
			m.level = 0
			e := m.match(src, p)
			if e != -1 {
				n++
				m.replace(L, &b, repl, src, e)
			}
			if e != -1 && e > src {
				src = e
			} else if src < len(s) {
				b.WriteByte(s[src])
				src++
			} else {
				break
			}
			if anchor {
				break
			}
		}
	})
	b.WriteString(s[src:])
	L.Push(lua.LString(b.String()))
	L.Push(lua.LNumber(n))
	return 2
}

// replace appends the replacement of the match src[s:e] to b.
func (m *matcher) replace(L *lua.LState, b *strings.Builder, repl lua.LValue, s, e int) {
	var v lua.LValue
	switch r := repl.(type) {
	case lua.LString, lua.LNumber:
		t := r.String()
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c != '%' || i+1 == len(t) {
				b.WriteByte(c)
				continue
			}
			i++
			switch d := t[i]; {
			case d == '0':
				b.WriteString(m.src[s:e])
			case d >= '1' && d <= '9':
				b.WriteString(lua.LVAsString(m.capture(int(d-'1'), s, e)))
			default:
				b.WriteByte(d)
			}
		}
		return
	case *lua.LTable:
		v = L.GetTable(r, m.capture(0, s, e))
	case *lua.LFunction:
		caps := m.captures(s, e, true)
		L.Push(r)
		for _, c := range caps {
			L.Push(c)
		}
		L.Call(len(caps), 1)
		v = L.Get(-1)
		L.Pop(1)
	}
	switch v.(type) {
	case *lua.LNilType:
		b.WriteString(m.src[s:e])
	case lua.LBool:
		if v == lua.LFalse {
			b.WriteString(m.src[s:e])
		} else {
			m.fail("invalid replacement value (a boolean)")
		}
	case lua.LString, lua.LNumber:
		b.WriteString(v.String())
	default:
		m.fail("invalid replacement value (a %s)", v.Type().String())
	}
}

// luaMatch reports whether pat matches somewhere in s (lab.expect's matches).
func luaMatch(L *lua.LState, s, pat string) bool {
	found := false
	msg := tryMatch(L, s, pat, func(m *matcher) {
		st, _ := m.find(0)
		found = st >= 0
	})
	if msg == "" {
		return found
	}
	if ctx := L.Context(); ctx != nil && ctx.Err() != nil {
		L.RaiseError("%s", msg)
	}
	L.RaiseError("bad pattern %q: %s", pat, msg)
	return false
}
