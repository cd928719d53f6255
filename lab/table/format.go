package table

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"
	"unicode/utf8"
)

// Format is a --format value read as Docker's CLI formatter reads it: "json" is one
// JSON object per row, "table TEMPLATE" prints a header row (the template run on the
// column titles) and aligns tab-separated columns, anything else is a Go template run
// once per row, each followed by a newline.
type Format struct {
	table bool
	src   string
	tmpl  *template.Template
}

// ParseFormat parses a --format value; "" and "table" are the verb's default table,
// which callers print themselves (IsDefault).
func ParseFormat(format string) (*Format, error) {
	f := &Format{src: format}
	switch {
	case format == "" || format == "table":
		return f, nil
	case format == "json":
		format = "{{json .}}"
	case strings.HasPrefix(format, "table"):
		f.table = true
		format = strings.TrimLeft(format[len("table"):], " ")
	}
	// Docker lets users type \t and \n literally in the shell.
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	t, err := template.New("").Funcs(Funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("failed to parse template: %w", err)
	}
	f.tmpl = t
	return f, nil
}

// ParseTemplate parses a plain template, run once per object (`inspect -f`).
func ParseTemplate(format string) (*Format, error) {
	t, err := template.New("").Funcs(Funcs).Parse(format)
	if err != nil {
		return nil, fmt.Errorf("failed to parse template: %w", err)
	}
	return &Format{src: format, tmpl: t}, nil
}

// IsDefault reports whether the verb's own table applies.
func (f *Format) IsDefault() bool { return f.tmpl == nil }

// Write runs the template on every row. headers maps placeholder names to column
// titles for the header of a table format.
func (f *Format) Write(w io.Writer, rows []any, headers map[string]string) error {
	var buf bytes.Buffer
	for _, r := range rows {
		if err := f.tmpl.Execute(&buf, r); err != nil {
			return fmt.Errorf("failed to execute template: %w", err)
		}
		buf.WriteByte('\n')
	}
	if !f.table {
		_, err := w.Write(buf.Bytes())
		return err
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	var head bytes.Buffer
	// As in Docker, a header the titles cannot fill (a placeholder with arguments)
	// is printed as far as it goes.
	h, _ := f.tmpl.Clone()
	_ = h.Funcs(headerFuncs).Execute(&head, headers)
	head.WriteByte('\n')
	tw.Write(head.Bytes())
	tw.Write(buf.Bytes())
	return tw.Flush()
}

// Execute runs the template once on v and adds a newline (`inspect -f`).
func (f *Format) Execute(w io.Writer, v any) error {
	var buf bytes.Buffer
	if err := f.tmpl.Execute(&buf, v); err != nil {
		return fmt.Errorf("failed to execute template: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// Funcs are the helpers Docker's templates offer besides Go's own (println, index,
// len...).
var Funcs = template.FuncMap{
	"json": func(v any) (string, error) {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(b.String(), "\n"), nil
	},
	"split": strings.Split,
	"join":  strings.Join,
	"title": title,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"pad": func(s string, before, after int) string {
		return strings.Repeat(" ", max(before, 0)) + s + strings.Repeat(" ", max(after, 0))
	},
	"truncate": func(s string, n int) string {
		if utf8.RuneCountInString(s) <= n || n < 0 {
			return s
		}
		return string([]rune(s)[:n])
	},
}

// headerFuncs leave column titles as they are: `table {{upper .Names}}` still heads its
// column NAMES, as in Docker.
var headerFuncs = template.FuncMap{
	"json":     func(v any) string { return fmt.Sprint(v) },
	"split":    func(s, _ string) string { return s },
	"join":     func(s any, _ string) string { return fmt.Sprint(s) },
	"title":    func(s string) string { return s },
	"lower":    func(s string) string { return s },
	"upper":    func(s string) string { return s },
	"pad":      func(s string, _, _ int) string { return s },
	"truncate": func(s string, _ int) string { return s },
}

// title upper-cases the first letter of every word (strings.Title without its
// deprecation).
func title(s string) string {
	prev := ' '
	return strings.Map(func(r rune) rune {
		up := unicode.IsSpace(prev)
		prev = r
		if up {
			return unicode.ToTitle(r)
		}
		return r
	}, s)
}
