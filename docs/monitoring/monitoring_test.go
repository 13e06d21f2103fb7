// Package monitoring tests the Grafana dashboard and the Prometheus alert
// rules of this folder: they parse, and every metric their expressions
// name is one a running herald serve exposes (or one the admission-control
// work announces); promtool, where installed, checks and unit-tests the rules
// and the dashboard's expressions.
package monitoring

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// configured are metrics that herald serve exposes only when configured to
// use what they watch, so that the test's hub (no JWK Set) does not show
// them.
var configured = []string{
	"herald_jwks_up", // {url}: one series per JWK Set (--publisher-jwks-url, --subscriber-jwks-url, --issuer ID=URL)
}

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	Title      string
	UID        string
	Templating struct {
		List []struct {
			Name, Type string
			Query      any
			Definition string
		}
	}
	Panels []panel
}

type panel struct {
	ID         int
	Type       string
	Title      string
	Datasource *struct{ Type, UID string }
	GridPos    struct{ X, Y, W, H int }
	Targets    []struct{ RefID, Expr string }
	Panels     []panel // a collapsed row's
}

// rules is a Prometheus rule file.
type rules struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record,omitempty"`
			Expr        string            `json:"expr"`
			For         string            `json:"for,omitempty"`
			Labels      map[string]string `json:"labels,omitempty"`
			Annotations map[string]string `json:"annotations,omitempty"`
		} `json:"rules"`
	} `json:"groups"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	return d
}

func readRules(t *testing.T) rules {
	t.Helper()
	b, err := os.ReadFile("alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var r rules
	if err := yaml.UnmarshalStrict(b, &r); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	return r
}

// exprs returns the dashboard's expressions, by panel title.
func (d dashboard) exprs() map[string][]string {
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], tg.Expr)
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

// TestDashboard: the dashboard is valid JSON with unique panel ids, panels
// within Grafana's 24 columns, every query on the ${datasource} variable.
func TestDashboard(t *testing.T) {
	t.Parallel()
	d := readDashboard(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q", d.Title, d.UID)
	}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			if p.GridPos.W <= 0 || p.GridPos.X+p.GridPos.W > 24 {
				t.Errorf("%q: gridPos %+v outside 24 columns", p.Title, p.GridPos)
			}
			if p.Type != "row" {
				if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
					t.Errorf("%q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
				}
				if len(p.Targets) == 0 {
					t.Errorf("%q: no query", p.Title)
				}
				for _, tg := range p.Targets {
					if tg.RefID == "" || strings.TrimSpace(tg.Expr) == "" {
						t.Errorf("%q: target %+v", p.Title, tg)
					}
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	if len(ids) < 10 {
		t.Errorf("%d panels", len(ids))
	}
}

// TestMetricsExist: every metric the dashboard and the alerts name is one
// herald serve exposes on /metrics (or is configured, or Prometheus' own up).
func TestMetricsExist(t *testing.T) {
	t.Parallel()
	known := servedMetrics(t)
	for _, n := range configured {
		known[n] = true
	}
	known["up"] = true
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: found no metric in %q", where, expr)
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: %s is not a metric herald serve exposes (%q)", where, n, expr)
			}
		}
	}
	for title, exprs := range readDashboard(t).exprs() {
		for _, e := range exprs {
			check("dashboard panel "+fmt.Sprintf("%q", title), e)
		}
	}
	for _, v := range readDashboard(t).Templating.List {
		if v.Type != "query" {
			continue
		}
		m := regexp.MustCompile(`label_values\((\w+)`).FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: %q is not label_values(metric…)", v.Name, v.Definition)
		} else if !known[m[1]] {
			t.Errorf("variable %s: %s is not a metric herald serve exposes", v.Name, m[1])
		}
	}
	alerts := 0
	for _, g := range readRules(t).Groups {
		for _, r := range g.Rules {
			alerts++
			check("alert "+r.Alert, r.Expr)
			if r.Labels["severity"] == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: want a severity label, a summary and a description", r.Alert)
			}
		}
	}
	// The alerts the operators asked for.
	text, _ := os.ReadFile("alerts.yaml")
	for _, metric := range []string{"herald_subscribers_refused_total", `herald_subscribers_closed_total{reason="slow"}`, "herald_store_up", "herald_publish_errors_total"} {
		if !strings.Contains(string(text), metric) {
			t.Errorf("no alert on %s", metric)
		}
	}
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promqlBraces   = regexp.MustCompile(`\{[^}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*(\s*\()?`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"}
)

// metricNames returns the metric names a PromQL expression selects: its
// identifiers that are not functions, keywords, labels or durations.
func metricNames(expr string) []string {
	e := promqlStrings.ReplaceAllString(expr, `""`)
	e = promqlBraces.ReplaceAllString(e, " ")
	e = promqlRanges.ReplaceAllString(e, " ")
	e = promqlGrouping.ReplaceAllString(e, " ")
	var out []string
	for _, m := range promqlIdent.FindAllStringSubmatch(e, -1) {
		name := strings.TrimRight(m[0], " \t\n(")
		if m[1] != "" || slices.Contains(promqlKeywords, strings.ToLower(name)) {
			continue // a function or an aggregation, or a keyword
		}
		out = append(out, name)
	}
	return out
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	got := metricNames(`histogram_quantile(0.99, sum by (le) (rate(herald_publish_duration_seconds_bucket{job=~"$job", instance=~"a|b"}[$__rate_interval]))) / on (job) group_left max(up) > 0 and x_total unless bool y`)
	want := []string{"herald_publish_duration_seconds_bucket", "up", "x_total", "y"}
	if !slices.Equal(got, want) {
		t.Errorf("metricNames = %q, want %q", got, want)
	}
}

// servedMetrics runs herald serve (built from this repository) and returns
// the metric names on its /metrics page, with the series names of its
// histograms.
func servedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "herald")
	build := exec.Command("go", "build", "-o", bin, "./cmd/herald")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--addr=127.0.0.1:0", "--store=memory:", "--jwt-key=k", "--demo=false", "--log-format=json")
	cmd.Stdout = io.Discard
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	var base string
	sc := bufio.NewScanner(stderr)
	for base == "" && sc.Scan() {
		var rec struct{ Msg, URL string }
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "herald is listening" {
			base = rec.URL
		}
	}
	if base == "" {
		t.Fatalf("herald serve did not start: %v", sc.Err())
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	known := map[string]bool{}
	page := bufio.NewScanner(resp.Body)
	page.Buffer(nil, 1<<20)
	for page.Scan() {
		f := strings.Fields(page.Text())
		if len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			known[f[2]] = true
			switch f[3] {
			case "histogram":
				known[f[2]+"_bucket"], known[f[2]+"_sum"], known[f[2]+"_count"] = true, true, true
			case "summary":
				known[f[2]+"_sum"], known[f[2]+"_count"] = true, true
			}
		}
	}
	if !known["herald_subscribers"] || !known["process_open_fds"] {
		t.Fatalf("/metrics lacks herald_subscribers or process_open_fds: %v", known)
	}
	return known
}

// TestPromtool: promtool (Debian package prometheus) checks the rule file
// and runs its unit tests (alerts_test.yaml: each alert fires when it
// should), and checks the dashboard's expressions as recording rules.
func TestPromtool(t *testing.T) {
	t.Parallel()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (Debian package prometheus)")
	}
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("check", "rules", "alerts.yaml")
	run("test", "rules", "alerts_test.yaml")

	// The dashboard's expressions, with Grafana's variables given values, as
	// recording rules: promtool parses each one.
	vars := strings.NewReplacer("$__rate_interval", "5m", "$job", ".*", "$instance", ".*")
	var doc strings.Builder
	doc.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	i := 0
	for _, exprs := range readDashboard(t).exprs() {
		for _, e := range exprs {
			i++
			q, _ := json.Marshal(vars.Replace(e))
			fmt.Fprintf(&doc, "      - record: dashboard:expr%d\n        expr: %s\n", i, q)
		}
	}
	path := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(path, []byte(doc.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run("check", "rules", path)
}
