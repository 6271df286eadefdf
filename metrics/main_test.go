package metrics_test

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series gathers c and returns every series' value by its text form,
// `name{label="value",...}` with labels in name order.
func series(t testing.TB, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return familyValues(mfs)
}

func familyValues(mfs []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var v float64
			switch {
			case m.GetGauge() != nil:
				v = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				v = m.GetCounter().GetValue()
			default:
				continue
			}
			out[seriesName(mf.GetName(), labelPairs(m))] = v
		}
	}
	return out
}

func labelPairs(m *dto.Metric) []string {
	var l []string
	for _, p := range m.GetLabel() {
		l = append(l, p.GetName(), p.GetValue())
	}
	return l
}

// seriesName returns `name{k="v",...}` for pairs k, v, ... sorted by k.
func seriesName(name string, pairs []string) string {
	type kv struct{ k, v string }
	var kvs []kv
	for i := 0; i+1 < len(pairs); i += 2 {
		kvs = append(kvs, kv{pairs[i], pairs[i+1]})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
	var b strings.Builder
	b.WriteString(name)
	if len(kvs) > 0 {
		b.WriteByte('{')
		for i, p := range kvs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(p.k + `="` + p.v + `"`)
		}
		b.WriteByte('}')
	}
	return b.String()
}

// only keeps the series of s whose names start with prefix.
func only(s map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s {
		if strings.HasPrefix(k, prefix+"{") || k == prefix {
			out[k] = v
		}
	}
	return out
}

// labelOf returns the value of label k in a series' text form (see
// seriesName), "" when it has none. Values holding `",` confuse it.
func labelOf(series, k string) string {
	i := strings.Index(series, "{"+k+`="`)
	if i < 0 {
		i = strings.Index(series, ","+k+`="`)
	}
	if i < 0 {
		return ""
	}
	rest := series[i+len(k)+3:]
	if j := strings.Index(rest, `",`); j >= 0 {
		return rest[:j]
	}
	return strings.TrimSuffix(rest, `"}`)
}

// containsLabel reports whether a series' text form has label k = v.
func containsLabel(series, k, v string) bool { return labelOf(series, k) == v }
