package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is this build's release version, stamped by the build with
// -ldflags "-X main.version=v1.2.3" (see docs/deploy). When empty, the
// version is the main module's as the go command recorded it: a tag for
// `go install module@version`, a pseudo-version derived from the checkout
// for `go build` in a git checkout, or "(devel)".
var version string

// versionText describes this build, from the build information the go
// command embeds: the version, the VCS revision (with its time, and whether
// the checkout had changes) and the Go toolchain.
func versionText() string {
	bi, _ := debug.ReadBuildInfo()
	return describeBuild(bi, version)
}

// buildVersion is this build's version alone, for logs.
func buildVersion() string {
	v, _, _ := strings.Cut(versionText(), "\n")
	return strings.TrimPrefix(v, "herald ")
}

// describeBuild describes the build bi (nil: unknown), whose release
// version is stamped (empty: bi's main module version).
func describeBuild(bi *debug.BuildInfo, stamped string) string {
	v, rev, when, modified := stamped, "", "", false
	if bi != nil {
		if v == "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "herald %s\n", v)
	if rev != "" {
		var notes []string
		if when != "" {
			notes = append(notes, when)
		}
		if modified {
			notes = append(notes, "with uncommitted changes")
		}
		fmt.Fprintf(&b, "revision: %s", rev)
		if len(notes) > 0 {
			fmt.Fprintf(&b, " (%s)", strings.Join(notes, ", "))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "go: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return b.String()
}
