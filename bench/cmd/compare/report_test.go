package main

import (
	"regexp"
	"testing"
)

// TestReportText: the report's fixed text does not send readers to the
// project's issue tracker to make sense of it.
func TestReportText(t *testing.T) {
	r := &report{o: options{runs: 1}}
	issue := regexp.MustCompile(`(?i)\bissues? #?\d+`)
	for name, text := range map[string]string{"head": r.markdownHead(), "notes": notes} {
		if m := issue.FindString(text); m != "" {
			t.Errorf("the report's %s refers to %q", name, m)
		}
	}
}
