package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Error is a build failure tied to a line of the Dockerfile.
type Error struct {
	File string // the Dockerfile's name, as the user gave it
	Line int    // 1-based; 0 when the failure has no line
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.File, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// RunError is a RUN step whose command exited non-zero. Its message is the classic
// builder's, word for word.
type RunError struct {
	Line    int
	Command string // the command as Docker prints it: argv joined by spaces
	Code    int
	Output  string // the step's output (its tail when long), for quiet builds
}

func (e *RunError) Error() string {
	return fmt.Sprintf("The command '%s' returned a non-zero code: %d", e.Command, e.Code)
}

// dockerfile is a parsed and checked Dockerfile.
type dockerfile struct {
	name     string
	stages   []instructions.Stage
	meta     []instructions.ArgCommand
	escape   rune
	warnings []string // what the parser tolerates but Docker warns about
}

func line(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// parseDockerfile parses with BuildKit's parser and instruction decoder (the reference
// grammar: continuations, comments, directives, JSON and shell forms, flags) and then
// refuses, with the line, everything lab cannot build, so that nothing runs before a
// bad instruction is found.
func parseDockerfile(name string, data []byte) (df *dockerfile, err error) {
	defer func() {
		// The parser is third-party code fed user input: a panic in it must be an
		// error line, not a crash.
		if r := recover(); r != nil {
			df, err = nil, &Error{File: name, Err: fmt.Errorf("cannot parse: %v", r)}
		}
	}()
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		e := locate(name, err).(*Error)
		msg := e.Err.Error()
		switch {
		case msg == "file with no instructions":
			e.Line = 0
		case strings.HasPrefix(msg, "invalid escape token"), strings.HasSuffix(msg, "parser directive can be used"):
			// The parser numbers these from 0, every other line from 1.
			e.Line++
		}
		return nil, e
	}
	stages, meta, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, locate(name, err)
	}
	if len(stages) == 0 {
		return nil, &Error{File: name, Err: errors.New("no FROM instruction: a Dockerfile must start with FROM (after ARGs and comments)")}
	}
	for _, s := range stages {
		for _, c := range s.Commands {
			if err := supported(c); err != nil {
				return nil, &Error{File: name, Line: line(c.Location()), Err: err}
			}
		}
	}
	df = &dockerfile{name: name, stages: stages, meta: meta, escape: res.EscapeToken}
	for _, w := range res.Warnings {
		df.warnings = append(df.warnings, w.Short)
	}
	return df, nil
}

// locate turns a parser error into an *Error carrying its line.
func locate(name string, err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		msg := le.Error()
		if l := le.Locations[0][0].Start.Line; l > 0 {
			return &Error{File: name, Line: l, Err: errors.New(msg)}
		}
		return &Error{File: name, Err: errors.New(msg)}
	}
	return &Error{File: name, Err: err}
}

// supported rejects what BuildKit parses but lab does not build.
func supported(c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.OnbuildCommand:
		return errors.New("ONBUILD is not supported by lab build")
	case *instructions.HealthCheckCommand:
		return errors.New("HEALTHCHECK is not supported by lab build")
	case *instructions.RunCommand:
		if len(c.Files) > 0 {
			return errors.New("RUN with a heredoc is not supported by lab build")
		}
		for _, f := range c.FlagsUsed {
			if f != "network" {
				return fmt.Errorf("RUN --%s is not supported by lab build", f)
			}
			if n := instructions.GetNetwork(c); n == instructions.NetworkHost {
				// Build containers, like all lab containers, have only loopback.
				return errors.New("RUN --network=host is not supported by lab build (containers have no network)")
			}
		}
	case *instructions.CopyCommand:
		switch {
		case len(c.SourceContents) > 0:
			return errors.New("COPY with a heredoc is not supported by lab build")
		case c.Parents:
			return errors.New("COPY --parents is not supported by lab build")
		case len(c.ExcludePatterns) > 0:
			return errors.New("COPY --exclude is not supported by lab build")
		}
	case *instructions.AddCommand:
		switch {
		case len(c.SourceContents) > 0:
			return errors.New("ADD with a heredoc is not supported by lab build")
		case c.Checksum != "":
			return errors.New("ADD --checksum is not supported by lab build (it only applies to URLs)")
		case c.KeepGitDir != nil:
			return errors.New("ADD --keep-git-dir is not supported by lab build (no git sources)")
		case len(c.ExcludePatterns) > 0:
			return errors.New("ADD --exclude is not supported by lab build")
		}
		for _, s := range c.SourcePaths {
			if strings.Contains(s, "://") || strings.HasPrefix(s, "git@") {
				return fmt.Errorf("ADD from a URL is not supported: lab builds offline (%s)", s)
			}
		}
	}
	return nil
}
