//go:build !lean

package lab

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// JUnit XML as CI servers (Jenkins, GitLab, GitHub reporters) read it, following the
// Ant/Jenkins schema: one testsuite per scenario directory, one testcase per scenario
// with classname = the scenario file's path without .lua, <failure> for a failed check
// (lab.expect, assert), <error> for a runtime error or a timeout, <skipped>, and the
// scenario's output as system-out (stderr also as system-err), whatever the outcome.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name      string      `xml:"name,attr"`
	Tests     int         `xml:"tests,attr"`
	Failures  int         `xml:"failures,attr"`
	Errors    int         `xml:"errors,attr"`
	Skipped   int         `xml:"skipped,attr"`
	Time      string      `xml:"time,attr"`
	Timestamp string      `xml:"timestamp,attr"`
	Hostname  string      `xml:"hostname,attr"`
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Error     *junitFailure `xml:"error,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
	SystemErr string        `xml:"system-err,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// writeJUnit writes results, in the order they ran, to path.
func writeJUnit(path string, results []outcome, started time.Time) error {
	host, _ := os.Hostname()
	doc := junitSuites{Name: "lab test", Time: seconds(time.Since(started))}
	index := map[string]int{}
	var durs []time.Duration
	for _, r := range results {
		dir := filepath.Dir(r.file)
		k, ok := index[dir]
		if !ok {
			k = len(doc.Suites)
			index[dir] = k
			doc.Suites = append(doc.Suites, junitSuite{Name: dir, Timestamp: started.UTC().Format("2006-01-02T15:04:05"), Hostname: host})
			durs = append(durs, 0)
		}
		c := junitCase{
			Name: r.name, Classname: strings.TrimSuffix(r.file, ".lua"), File: r.file, Time: seconds(r.dur),
			SystemOut: r.output, SystemErr: r.stderr,
		}
		suite := &doc.Suites[k]
		suite.Tests++
		doc.Tests++
		durs[k] += r.dur
		switch r.status {
		case failed:
			f := &junitFailure{Message: r.msg, Type: r.errKind, Text: strings.TrimRight(r.msg+"\n"+r.detail, "\n")}
			if r.errKind == "failure" {
				c.Failure = f
				suite.Failures++
				doc.Failures++
			} else {
				f.Type = "error"
				c.Error = f
				suite.Errors++
				doc.Errors++
			}
		case skipped:
			c.Skipped = &junitSkipped{Message: r.msg}
			suite.Skipped++
			doc.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for i := range doc.Suites {
		doc.Suites[i].Time = seconds(durs[i])
	}
	b, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	b = append([]byte(xml.Header), append(b, '\n')...)
	// Written whole and renamed into place, so a CI step never reads half a report.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// failedInJUnit reads a report written by --junit and returns the names of the
// scenarios that failed or erred in it.
func failedInJUnit(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var doc junitSuites
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	names := map[string]bool{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Failure != nil || c.Error != nil {
				names[c.Name] = true
			}
		}
	}
	return names, nil
}
