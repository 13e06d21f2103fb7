//go:build linux

package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
)

// report is what a scenario found: rows of figures, some checked against a
// target, and the numbers a test reads.
type report struct {
	scenario string
	hub      string   // which hub: the binary and where it was built from
	setup    string   // what the scenario did, in one paragraph
	notes    []string // anything else worth saying (flags left out, …)
	rows     []row
	load     [2]float64 // the machine's 1-minute load average at start and end
	values   map[string]float64
}

type row struct {
	figure, value, target string
	verdict               string // "ok", "MISSED" or "" (not checked)
}

func newReport(scenario, hub string) *report {
	return &report{scenario: scenario, hub: hub, values: map[string]float64{}, load: [2]float64{loadAvg(), -1}}
}

// add adds a figure that has no target.
func (r *report) add(figure, value string) {
	r.rows = append(r.rows, row{figure: figure, value: value})
}

// check adds a figure checked against a target.
func (r *report) check(figure, value, target string, ok bool) {
	v := "ok"
	if !ok {
		v = "MISSED"
	}
	r.rows = append(r.rows, row{figure, value, target, v})
}

// note adds a line under the table.
func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// set records a number for tests.
func (r *report) set(key string, v float64) { r.values[key] = v }

// missed returns the figures that missed their target.
func (r *report) missed() []string {
	var m []string
	for _, x := range r.rows {
		if x.verdict == "MISSED" {
			m = append(m, x.figure)
		}
	}
	return m
}

// write prints the report as Markdown: a heading, the setup, a table and
// the notes.
func (r *report) write(w io.Writer) {
	if r.load[1] < 0 {
		r.load[1] = loadAvg()
	}
	fmt.Fprintf(w, "### %s\n\n", r.scenario)
	fmt.Fprintf(w, "Hub: %s. Machine: %d CPUs, load average (1 min) %.2f at the start, %.2f at the end.\n\n",
		r.hub, runtime.NumCPU(), r.load[0], r.load[1])
	if r.setup != "" {
		fmt.Fprintf(w, "%s\n\n", r.setup)
	}
	fmt.Fprintln(w, "| figure | value | target | |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, x := range r.rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", cell(x.figure), cell(x.value), cell(x.target), x.verdict)
	}
	fmt.Fprintln(w)
	for _, n := range r.notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
	if len(r.notes) > 0 {
		fmt.Fprintln(w)
	}
}

// cell escapes a table cell.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
