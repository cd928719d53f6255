package luabind

import (
	"fmt"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

const expectType = "lab.Expect"

// expectation is the subject of lab.expect(v, label): each method checks one thing
// about it, raises a Failure when the check fails and returns the expectation, so
// checks chain: lab.expect(c):exit_code(0):stdout_contains("ok").
type expectation struct {
	v     lua.LValue
	label string
	level int // which Lua caller a failure names: 1 the line of the check, 2 its caller...
}

func (b *binding) expectMethods() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		// any value
		"eq":           b.xEq,
		"ne":           b.xNe,
		"is_nil":       b.xIsNil,
		"not_nil":      b.xNotNil,
		"truthy":       b.xTruthy,
		"falsy":        b.xFalsy,
		"contains":     b.xContains(true),
		"not_contains": b.xContains(false),
		"matches":      b.xMatches,
		"len":          b.xLen,
		"raises":       b.xRaises,
		// containers
		"exit_code":       b.xExitCode,
		"status":          b.xStatus,
		"stdout":          b.xStream("stdout", "eq"),
		"stderr":          b.xStream("stderr", "eq"),
		"stdout_contains": b.xStream("stdout", "contains"),
		"stderr_contains": b.xStream("stderr", "contains"),
		"stdout_matches":  b.xStream("stdout", "matches"),
		"stderr_matches":  b.xStream("stderr", "matches"),
		"diff_contains":   b.xDiffContains,
		// containers and images
		"file":    b.xFile,
		"no_file": b.xNoFile,
		// images
		"has_tag": b.xHasTag,
		// text, or any value as print shows it
		"golden": b.xGolden,
	}
}

func (b *binding) registerExpect(L *lua.LState) {
	mt := L.NewTypeMetatable(expectType)
	mt.RawSetString("__name", lua.LString(expectType))
	mt.RawSetString("__index", L.SetFuncs(L.NewTable(), namedFuncs("expect:", b.expectMethods())))
}

// expect is lab.expect(v, label).
func (b *binding) expect(L *lua.LState) int {
	if L.GetTop() < 1 {
		argError(L, 1, "value expected")
	}
	x := &expectation{v: L.Get(1), level: 1}
	if t, ok := L.Get(2).(*lua.LTable); ok {
		// lab.expect(v, {label = "...", level = 2}): a helper that checks for its
		// caller reports the caller's line.
		checkOpts(L, 2, "label", "level")
		x.label, _ = optString(L, 2, t, "label")
		if lv, ok := t.RawGetString("level").(lua.LNumber); ok {
			x.level = int(lv)
		} else if t.RawGetString("level") != lua.LNil {
			argError(L, 2, "option 'level' must be a number")
		}
		if x.level < 1 {
			argError(L, 2, "option 'level' must be 1 or more")
		}
	} else if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		x.label = checkString(L, 2)
	}
	ud := L.NewUserData()
	ud.Value = x
	L.SetMetatable(ud, L.GetTypeMetatable(expectType))
	L.Push(ud)
	return 1
}

// assertEq is lab.assert_eq(actual, expected, msg).
func (b *binding) assertEq(L *lua.LState) int {
	if L.GetTop() < 2 {
		argError(L, 2, "value expected")
	}
	actual, expected := L.Get(1), L.Get(2)
	if deepEqual(actual, expected) {
		return 0
	}
	msg := optStr(L, 3, "")
	if msg == "" {
		msg = "values differ"
	}
	b.failDiff(L, &expectation{v: actual}, msg, expected, actual)
	return 0
}

// failFn is lab.fail(msg): a failure at the caller's line.
func (b *binding) failFn(L *lua.LState) int {
	fail(L, optStr(L, 1, "failed"), "")
	return 0
}

func checkExpect(L *lua.LState) *expectation {
	if ud, ok := L.Get(1).(*lua.LUserData); ok {
		if x, ok := ud.Value.(*expectation); ok {
			return x
		}
	}
	L.RaiseError("expectation methods are called with ':' as in lab.expect(v):eq(x)")
	return nil
}

func self(L *lua.LState) int {
	L.Push(L.Get(1))
	return 1
}

// failOn raises a failure about x with the message and detail given, adding where the
// value came from when a container produced it.
func (b *binding) failOn(L *lua.LState, x *expectation, msg, detail string) {
	if x.label != "" {
		msg = x.label + ": " + msg
	}
	if c := b.source(x.v); c != nil {
		if detail != "" {
			detail += "\n"
		}
		detail += c.tail()
	}
	failAt(L, x.level, msg, detail)
}

// source is the container behind a subject: the subject itself, or the container
// whose output the subject string is.
func (b *binding) source(v lua.LValue) *ctr {
	switch v := v.(type) {
	case *lua.LUserData:
		if c, ok := v.Value.(*ctr); ok {
			b.loadOutput(c)
			return c
		}
	case lua.LString:
		return b.producer(string(v))
	}
	return nil
}

// failDiff fails showing expected and actual, with a line diff for multi-line text.
func (b *binding) failDiff(L *lua.LState, x *expectation, msg string, expected, actual lua.LValue) {
	b.failOn(L, x, msg, diffDetail(expected, actual))
}

func diffDetail(expected, actual lua.LValue) string {
	detail := "expected: " + indentRest(repr(expected), "          ") + "\n  actual: " + indentRest(repr(actual), "          ")
	es, eok := expected.(lua.LString)
	as, aok := actual.(lua.LString)
	if eok && aok && (strings.Contains(string(es), "\n") || strings.Contains(string(as), "\n")) {
		detail += "\ndiff (-expected +actual):\n" + lineDiff(string(es), string(as))
	}
	et, eok := expected.(*lua.LTable)
	at, aok := actual.(*lua.LTable)
	if eok && aok {
		var lines []string
		tableDiff(et, at, "", &lines, map[*lua.LTable]bool{})
		if len(lines) > 0 {
			detail += "\ndifferences:\n  " + strings.Join(lines, "\n  ")
		}
	}
	return detail
}

// tableDiff lists, element by element, where two tables differ: a key only in one of
// them, or the path to a value that differs ("[3].name: expected "a", got "b"").
func tableDiff(expected, actual *lua.LTable, path string, out *[]string, seen map[*lua.LTable]bool) {
	if seen[expected] || len(*out) >= 20 {
		return
	}
	seen[expected] = true
	var keys []lua.LValue
	has := map[lua.LValue]bool{}
	collect := func(t *lua.LTable) {
		t.ForEach(func(k, _ lua.LValue) {
			if !has[k] {
				has[k] = true
				keys = append(keys, k)
			}
		})
	}
	collect(expected)
	collect(actual)
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for _, k := range keys {
		p := strings.TrimPrefix(path+keyPath(k), ".")
		e, a := expected.RawGet(k), actual.RawGet(k)
		switch {
		case e == lua.LNil:
			*out = append(*out, fmt.Sprintf("%s: unexpected %s", p, repr(a)))
		case a == lua.LNil:
			*out = append(*out, fmt.Sprintf("%s: missing (expected %s)", p, repr(e)))
		case deepEqual(e, a):
		default:
			et, eok := e.(*lua.LTable)
			at, aok := a.(*lua.LTable)
			if eok && aok {
				tableDiff(et, at, p, out, seen)
				continue
			}
			*out = append(*out, fmt.Sprintf("%s: expected %s, got %s", p, repr(e), repr(a)))
		}
		if len(*out) >= 20 {
			*out = append(*out, "...")
			return
		}
	}
}

func keyPath(k lua.LValue) string {
	if s, ok := k.(lua.LString); ok && isIdent(string(s)) {
		return "." + string(s)
	}
	return "[" + repr(k) + "]"
}

func isIdent(s string) bool {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

func indentRest(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}

func (b *binding) xEq(L *lua.LState) int {
	x := checkExpect(L)
	want := L.Get(2)
	if !deepEqual(x.v, want) {
		b.failDiff(L, x, "values differ", want, x.v)
	}
	return self(L)
}

func (b *binding) xNe(L *lua.LState) int {
	x := checkExpect(L)
	if deepEqual(x.v, L.Get(2)) {
		b.failOn(L, x, "expected a value different from "+repr(L.Get(2)), "")
	}
	return self(L)
}

func (b *binding) xIsNil(L *lua.LState) int {
	x := checkExpect(L)
	if x.v != lua.LNil {
		b.failOn(L, x, "expected nil, got "+repr(x.v), "")
	}
	return self(L)
}

func (b *binding) xNotNil(L *lua.LState) int {
	x := checkExpect(L)
	if x.v == lua.LNil {
		b.failOn(L, x, "expected a value, got nil", "")
	}
	return self(L)
}

func (b *binding) xTruthy(L *lua.LState) int {
	x := checkExpect(L)
	if !lua.LVAsBool(x.v) {
		b.failOn(L, x, "expected a true value, got "+repr(x.v), "")
	}
	return self(L)
}

func (b *binding) xFalsy(L *lua.LState) int {
	x := checkExpect(L)
	if lua.LVAsBool(x.v) {
		b.failOn(L, x, "expected false or nil, got "+repr(x.v), "")
	}
	return self(L)
}

// xContains checks a substring of a string, or an element of a list.
func (b *binding) xContains(want bool) lua.LGFunction {
	return func(L *lua.LState) int {
		x := checkExpect(L)
		if L.GetTop() < 2 {
			argError(L, 2, "value expected")
		}
		item := L.Get(2)
		var found bool
		switch v := x.v.(type) {
		case lua.LString:
			s, ok := item.(lua.LString)
			if !ok {
				argError(L, 2, "string expected for a string subject, got "+typeName(item))
			}
			found = strings.Contains(string(v), string(s))
		case *lua.LTable:
			v.ForEach(func(_, e lua.LValue) { found = found || deepEqual(e, item) })
		default:
			L.RaiseError("contains: subject must be a string or a table, got %s", typeName(x.v))
		}
		if found != want {
			verb := "to contain"
			if !want {
				verb = "not to contain"
			}
			b.failOn(L, x, fmt.Sprintf("expected %s %s", verb, repr(item)), "  actual: "+indentRest(repr(x.v), "          "))
		}
		return self(L)
	}
}

func (b *binding) xMatches(L *lua.LState) int {
	x := checkExpect(L)
	pat := checkString(L, 2)
	s, ok := x.v.(lua.LString)
	if !ok {
		L.RaiseError("matches: subject must be a string, got %s", typeName(x.v))
	}
	if !luaMatch(L, string(s), pat) {
		b.failOn(L, x, "expected a match for pattern "+repr(lua.LString(pat)), "  actual: "+indentRest(repr(s), "          "))
	}
	return self(L)
}

func (b *binding) xLen(L *lua.LState) int {
	x := checkExpect(L)
	want := checkInt(L, 2)
	var n int
	switch v := x.v.(type) {
	case lua.LString:
		n = len(v)
	case *lua.LTable:
		n = v.Len()
	default:
		L.RaiseError("len: subject must be a string or a table, got %s", typeName(x.v))
	}
	if n != want {
		b.failOn(L, x, fmt.Sprintf("expected length %d, got %d", want, n), "  actual: "+indentRest(repr(x.v), "          "))
	}
	return self(L)
}

// xRaises calls the subject function and expects it to raise; with a string, the
// message must contain it, with a number, a lab error must carry that code.
func (b *binding) xRaises(L *lua.LState) int {
	x := checkExpect(L)
	fn, ok := x.v.(*lua.LFunction)
	if !ok {
		L.RaiseError("raises: subject must be a function, got %s", typeName(x.v))
	}
	var substr string
	code := 0
	for i := 2; i <= L.GetTop(); i++ {
		switch v := L.Get(i).(type) {
		case lua.LString:
			substr = string(v)
		case lua.LNumber:
			code = int(v)
		case *lua.LNilType:
		default:
			argError(L, i, "message substring or error code expected, got "+typeName(v))
		}
	}
	err := L.CallByParam(lua.P{Fn: fn, NRet: 0, Protect: true})
	if err == nil {
		b.failOn(L, x, "expected an error, but the function returned normally", "")
		return self(L)
	}
	f := AsFailure(err)
	if substr != "" && !strings.Contains(f.Msg, substr) {
		b.failOn(L, x, "the error does not mention "+repr(lua.LString(substr)), "   error: "+f.Msg)
	}
	if code != 0 {
		if got := ErrorCode(err); got != code {
			b.failOn(L, x, fmt.Sprintf("expected error code %d, got %d", code, got), "   error: "+f.Msg)
		}
	}
	return self(L)
}

// subjectCtr is the container subject of a container-only check.
func subjectCtr(L *lua.LState, x *expectation, check string) *ctr {
	if ud, ok := x.v.(*lua.LUserData); ok {
		if c, ok := ud.Value.(*ctr); ok {
			return c
		}
	}
	L.RaiseError("%s: subject must be a container, got %s", check, typeName(x.v))
	return nil
}

func (b *binding) xExitCode(L *lua.LState) int {
	x := checkExpect(L)
	c := subjectCtr(L, x, "exit_code")
	want := checkInt(L, 2)
	if c.rec.State.ExitCode != want {
		b.failOn(L, x, fmt.Sprintf("expected exit code %d, got %d", want, c.rec.State.ExitCode), "")
	}
	return self(L)
}

func (b *binding) xStatus(L *lua.LState) int {
	x := checkExpect(L)
	c := subjectCtr(L, x, "status")
	want := checkString(L, 2)
	if c.rec.State.Status != want {
		b.failOn(L, x, fmt.Sprintf("expected status %q, got %q", want, c.rec.State.Status), "")
	}
	return self(L)
}

// xStream checks a container's stdout or stderr: equal, containing or matching.
func (b *binding) xStream(stream, how string) lua.LGFunction {
	check := stream
	if how != "eq" {
		check += "_" + how
	}
	return func(L *lua.LState) int {
		x := checkExpect(L)
		c := subjectCtr(L, x, check)
		want := checkString(L, 2)
		b.loadOutput(c)
		got := c.stdout
		if stream == "stderr" {
			got = c.stderr
		}
		switch how {
		case "eq":
			if got != want {
				b.failOn(L, x, stream+" differs", diffDetail(lua.LString(want), lua.LString(got)))
			}
		case "contains":
			if !strings.Contains(got, want) {
				b.failOn(L, x, fmt.Sprintf("expected %s to contain %s", stream, repr(lua.LString(want))), "")
			}
		case "matches":
			if !luaMatch(L, got, want) {
				b.failOn(L, x, fmt.Sprintf("expected %s to match pattern %s", stream, repr(lua.LString(want))), "")
			}
		}
		return self(L)
	}
}

func (b *binding) xDiffContains(L *lua.LState) int {
	x := checkExpect(L)
	c := subjectCtr(L, x, "diff_contains")
	want := strings.TrimSpace(checkString(L, 2))
	changes, err := b.eng.Diff(c.rec.ID)
	if err != nil {
		b.raise(L, "diff_contains", err, 1, nil)
	}
	var lines []string
	for _, ch := range changes {
		if ch.String() == want {
			return self(L)
		}
		lines = append(lines, "  "+ch.String())
	}
	detail := "diff is empty"
	if len(lines) > 0 {
		detail = "diff:\n" + strings.Join(lines, "\n")
	}
	b.failOn(L, x, "expected the diff to contain "+repr(lua.LString(want)), detail)
	return 0
}

// readSubject reads a file from the container or image subject.
func (b *binding) readSubject(L *lua.LState, x *expectation, check, path string) ([]byte, error) {
	if ud, ok := x.v.(*lua.LUserData); ok {
		switch s := ud.Value.(type) {
		case *ctr:
			return b.eng.ReadFile(s.rec.ID, path)
		case *img:
			return b.eng.ReadImageFile(s.rec.ID.String(), path)
		}
	}
	L.RaiseError("%s: subject must be a container or an image, got %s", check, typeName(x.v))
	return nil, nil
}

// xFile checks that path exists (content nil) or holds exactly content.
func (b *binding) xFile(L *lua.LState) int {
	x := checkExpect(L)
	path := checkPath(L, 2)
	var want *string
	if L.Get(3) != lua.LNil {
		s := checkString(L, 3)
		want = &s
	}
	data, err := b.readSubject(L, x, "file", path)
	switch {
	case err != nil && isNotExist(err):
		b.failOn(L, x, "expected file "+path+" to exist", "no such file")
	case err != nil && want == nil && strings.Contains(err.Error(), "is a directory"):
	case err != nil:
		b.raise(L, "file", err, 1, nil)
	case want != nil && string(data) != *want:
		b.failOn(L, x, "file "+path+" differs", diffDetail(lua.LString(*want), lua.LString(data)))
	}
	return self(L)
}

func (b *binding) xNoFile(L *lua.LState) int {
	x := checkExpect(L)
	path := checkPath(L, 2)
	data, err := b.readSubject(L, x, "no_file", path)
	switch {
	case err == nil:
		b.failOn(L, x, "expected no file "+path, "it exists, content: "+repr(lua.LString(truncate(string(data), 200))))
	case isNotExist(err):
	case strings.Contains(err.Error(), "is a directory"):
		b.failOn(L, x, "expected no file "+path, "it exists and is a directory")
	default:
		b.raise(L, "no_file", err, 1, nil)
	}
	return self(L)
}

func (b *binding) xHasTag(L *lua.LState) int {
	x := checkExpect(L)
	want := checkString(L, 2)
	ud, ok := x.v.(*lua.LUserData)
	var i *img
	if ok {
		i, _ = ud.Value.(*img)
	}
	if i == nil {
		L.RaiseError("has_tag: subject must be an image, got %s", typeName(x.v))
	}
	for _, t := range i.rec.Tags {
		if t == want || strings.TrimSuffix(t, ":latest") == want {
			return self(L)
		}
	}
	b.failOn(L, x, "expected the image to be tagged "+want, "tags: "+strings.Join(i.rec.Tags, ", "))
	return 0
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// deepEqual compares Lua values: tables by content (cycles allowed), containers and
// images by ID, everything else as Lua's == does.
func deepEqual(a, b lua.LValue) bool {
	return deepEq(a, b, map[[2]*lua.LTable]bool{})
}

func deepEq(a, b lua.LValue, seen map[[2]*lua.LTable]bool) bool {
	switch av := a.(type) {
	case *lua.LTable:
		bv, ok := b.(*lua.LTable)
		if !ok {
			return false
		}
		if av == bv || seen[[2]*lua.LTable{av, bv}] {
			return true
		}
		seen[[2]*lua.LTable{av, bv}] = true
		equal := true
		n := 0
		av.ForEach(func(k, v lua.LValue) {
			n++
			if equal && !deepEq(v, bv.RawGet(k), seen) {
				equal = false
			}
		})
		if !equal {
			return false
		}
		m := 0
		bv.ForEach(func(lua.LValue, lua.LValue) { m++ })
		return n == m
	case *lua.LUserData:
		bu, ok := b.(*lua.LUserData)
		if !ok {
			return false
		}
		switch x := av.Value.(type) {
		case *ctr:
			y, ok := bu.Value.(*ctr)
			return ok && x.rec.ID == y.rec.ID
		case *img:
			y, ok := bu.Value.(*img)
			return ok && x.rec.ID == y.rec.ID
		}
		return av == bu
	}
	return a == b
}

// lineDiff is a line diff of a and b ("-" only in a, "+" only in b), with unchanged
// runs longer than the context shortened to "...".
func lineDiff(a, b string) string {
	var note string
	switch ea, eb := strings.HasSuffix(a, "\n"), strings.HasSuffix(b, "\n"); {
	case ea && !eb:
		note = "\n  (expected ends with a newline, actual does not)"
	case !ea && eb:
		note = "\n  (actual ends with a newline, expected does not)"
	}
	x := strings.Split(strings.TrimSuffix(a, "\n"), "\n")
	y := strings.Split(strings.TrimSuffix(b, "\n"), "\n")
	const limit = 2000
	if len(x) > limit || len(y) > limit {
		return "  (too long to diff: " + fmt.Sprint(len(x)) + " and " + fmt.Sprint(len(y)) + " lines)"
	}
	// lcs[i][j] is the longest common subsequence of x[i:] and y[j:].
	lcs := make([][]int, len(x)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(y)+1)
	}
	for i := len(x) - 1; i >= 0; i-- {
		for j := len(y) - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var out []line
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			out = append(out, line{' ', x[i]})
			i++
			j++
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, line{'-', x[i]})
			i++
		default:
			out = append(out, line{'+', y[j]})
			j++
		}
	}
	const context = 2
	changed := false
	for _, l := range out {
		changed = changed || l.op != ' '
	}
	near := func(k int) bool {
		if !changed {
			return true
		}
		for d := -context; d <= context; d++ {
			if k+d >= 0 && k+d < len(out) && out[k+d].op != ' ' {
				return true
			}
		}
		return false
	}
	var sb strings.Builder
	skipped := false
	for k, l := range out {
		if l.op == ' ' && !near(k) {
			if !skipped {
				sb.WriteString("  ...\n")
				skipped = true
			}
			continue
		}
		skipped = false
		fmt.Fprintf(&sb, "  %c%s\n", l.op, visible(l.text))
	}
	return strings.TrimSuffix(sb.String(), "\n") + note
}

// visible marks trailing whitespace and carriage returns, which a diff otherwise hides.
func visible(s string) string {
	s = strings.ReplaceAll(s, "\r", `\r`)
	if t := strings.TrimRight(s, " \t"); t != s {
		return t + strings.ReplaceAll(strings.ReplaceAll(s[len(t):], " ", "·"), "\t", "→")
	}
	return s
}
