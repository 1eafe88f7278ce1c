package deploy

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/interlock-dev/interlock/daemon/metrics"
)

const dashboardPath = "grafana/interlock-dashboard.json"

// toCome are metrics the dashboard already shows but interlockd does not
// export yet, with the labels the panels use. TO COME: the eBPF guard's
// bypass counter and the approval metrics (names not final). Once a name is
// exported it is checked like any other metric, against its real labels.
var toCome = map[string][]string{
	"interlock_bypass_attempts_total":   {"kind", "action"},
	"interlock_approval_requests_total": {"result"},
	"interlock_approvals_pending":       nil,
}

// targetLabels are attached by Prometheus (and the ServiceMonitor's
// relabeling), not by interlockd.
var targetLabels = []string{"job", "instance", "node"}

// exported describes one metric family of interlockd's registry.
type exported struct {
	labels []string
	typ    dto.MetricType
	typed  bool // typ is known (the family had a sample)
}

var descRE = regexp.MustCompile(`^Desc\{fqName: "([^"]+)", .*variableLabels: \{([^}]*)\}\}$`)

// registryMetrics returns every metric name interlockd can export with its
// variable labels. Describe lists vectors that have no sample yet; Gather
// adds the types.
func registryMetrics(tb testing.TB) map[string]exported {
	tb.Helper()
	reg := metrics.New().Registry
	ch := make(chan *prometheus.Desc, 256)
	go func() { reg.Describe(ch); close(ch) }()
	out := map[string]exported{}
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			tb.Fatalf("cannot read metric descriptor %s (client_golang changed its format?)", d)
		}
		var labels []string
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(l), "c("), ")"); l != "" {
				labels = append(labels, l)
			}
		}
		out[m[1]] = exported{labels: labels}
	}
	fams, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, f := range fams {
		e := out[f.GetName()]
		e.typ, e.typed = f.GetType(), true
		out[f.GetName()] = e
	}
	if _, ok := out["interlock_sessions_active"]; !ok {
		tb.Fatal("interlock_sessions_active is not in the registry: registryMetrics is broken")
	}
	return out
}

type dashboard struct {
	Title      string `json:"title"`
	UID        string `json:"uid"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
	Panels []dashboardPanel `json:"panels"`
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // collapsed rows
}

func loadDashboard(tb testing.TB) *dashboard {
	tb.Helper()
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(readFile(tb, dashboardPath))))
	if err := dec.Decode(&d); err != nil {
		tb.Fatalf("%s: %v", dashboardPath, err)
	}
	if d.Title == "" || d.UID == "" {
		tb.Fatalf("%s: title and uid are required", dashboardPath)
	}
	return &d
}

// panels flattens rows.
func (d *dashboard) panels() []dashboardPanel {
	var out []dashboardPanel
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

var (
	// metricRE finds the metric names of an expression: interlockd's own
	// and the Go and process collectors'.
	metricRE  = regexp.MustCompile(`\b(?:interlock|go|process)_[a-z0-9_]+\b`)
	byRE      = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matcherRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	templRE   = regexp.MustCompile(`\$\{?([a-zA-Z_]+)`)
)

// resolve maps a series name to its family: histogram series carry
// _bucket, _sum and _count.
func resolve(name string, reg map[string]exported) (family string, le bool, ok bool) {
	if _, ok := reg[name]; ok {
		return name, false, true
	}
	if _, ok := toCome[name]; ok {
		return name, false, true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suf)
		if !found {
			continue
		}
		e, ok := reg[base]
		if ok && e.typed && (e.typ == dto.MetricType_HISTOGRAM || e.typ == dto.MetricType_SUMMARY) {
			return base, suf == "_bucket" && e.typ == dto.MetricType_HISTOGRAM, true
		}
	}
	return "", false, false
}

// TestDashboardMetricsExist: every metric and label a panel queries is one
// interlockd exports (or is listed in toCome), and every variable it uses
// is defined.
func TestDashboardMetricsExist(t *testing.T) {
	reg := registryMetrics(t)
	d := loadDashboard(t)
	vars := []string{"__rate_interval", "__range", "__interval"}
	for _, v := range d.Templating.List {
		vars = append(vars, v.Name)
	}
	ids := map[int]string{}
	n := 0
	for _, p := range d.panels() {
		if prev, dup := ids[p.ID]; dup {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			n++
			checkExpr(t, p.Title, tg.Expr, reg, vars)
			if tg.RefID == "" {
				t.Errorf("panel %q: a target has no refId", p.Title)
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d queries in the dashboard: is it the right file?", n)
	}
}

func checkExpr(t *testing.T, panel, expr string, reg map[string]exported, vars []string) {
	t.Helper()
	names := metricRE.FindAllString(expr, -1)
	if len(names) == 0 {
		t.Errorf("panel %q: %q queries no interlockd metric", panel, expr)
	}
	allowed := slices.Clone(targetLabels)
	for _, name := range names {
		fam, le, ok := resolve(name, reg)
		if !ok {
			t.Errorf("panel %q: %s is not exported by interlockd (daemon/metrics) nor listed in toCome", panel, name)
			continue
		}
		if e, ok := reg[fam]; ok {
			allowed = append(allowed, e.labels...)
		} else {
			allowed = append(allowed, toCome[fam]...)
		}
		if le {
			allowed = append(allowed, "le")
		}
	}
	var used []string
	for _, m := range byRE.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			used = append(used, strings.TrimSpace(l))
		}
	}
	for _, m := range matcherRE.FindAllStringSubmatch(expr, -1) {
		used = append(used, m[1])
	}
	for _, l := range used {
		if l != "" && !slices.Contains(allowed, l) {
			t.Errorf("panel %q: label %q is not a label of %v (allowed: %v)", panel, l, names, allowed)
		}
	}
	for _, m := range templRE.FindAllStringSubmatch(expr, -1) {
		if !slices.Contains(vars, m[1]) {
			t.Errorf("panel %q: variable $%s is not defined", panel, m[1])
		}
	}
}

// TestDashboardCoversMetrics: every interlock_* metric has a panel.
func TestDashboardCoversMetrics(t *testing.T) {
	reg := registryMetrics(t)
	used := map[string]bool{}
	for _, p := range loadDashboard(t).panels() {
		for _, tg := range p.Targets {
			for _, name := range metricRE.FindAllString(tg.Expr, -1) {
				if fam, _, ok := resolve(name, reg); ok {
					used[fam] = true
				}
			}
		}
	}
	for name := range reg {
		if strings.HasPrefix(name, "interlock_") && !used[name] {
			t.Errorf("%s is exported but on no panel of %s", name, dashboardPath)
		}
	}
}
