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

// JUnit XML as CI servers (Jenkins, GitLab, GitHub reporters) read it: one testsuite per
// scenario directory, one testcase per scenario, a failure or skipped element when it did
// not pass, and the transcript as system-out.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
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
	Cases     []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	File      string        `xml:"file,attr,omitempty"`
	Time      string        `xml:"time,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
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

// writeJUnit writes results (one per scenario, same order) to path. Scenarios that
// never ran (the run was interrupted) are left out.
func writeJUnit(path string, todo []*scenario, results []outcome, started time.Time) error {
	doc := junitSuites{Name: "lab test", Time: seconds(time.Since(started))}
	index := map[string]int{}
	for i, s := range todo {
		r := results[i]
		if r.status == "" {
			continue
		}
		dir := filepath.Dir(s.file)
		k, ok := index[dir]
		if !ok {
			k = len(doc.Suites)
			index[dir] = k
			doc.Suites = append(doc.Suites, junitSuite{Name: dir, Timestamp: started.UTC().Format(time.RFC3339)})
		}
		c := junitCase{Name: s.name, Classname: dir, File: s.file, Time: seconds(r.dur), SystemOut: r.output}
		suite := &doc.Suites[k]
		suite.Tests++
		doc.Tests++
		switch r.status {
		case failed:
			c.Failure = &junitFailure{Message: r.msg, Type: "failure", Text: strings.TrimRight(r.msg+"\n"+r.detail, "\n")}
			suite.Failures++
			doc.Failures++
		case skipped:
			c.Skipped = &junitSkipped{Message: r.msg}
			suite.Skipped++
			doc.Skipped++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for i := range doc.Suites {
		var total time.Duration
		for j, s := range todo {
			if results[j].status != "" && filepath.Dir(s.file) == doc.Suites[i].Name {
				total += results[j].dur
			}
		}
		doc.Suites[i].Time = seconds(total)
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
