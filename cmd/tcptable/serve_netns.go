package main

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptable/tcptable"
)

// skipReporter says, for `serve --all-netns`, which network namespaces
// the table reads could not enter: tcptable_netns_skipped after each
// read, and a line on stderr whenever that changes, so that a partial
// host is never exported silently.
type skipReporter struct {
	p    tcptable.Provider
	log  interface{ Printf(string, ...any) }
	desc *prometheus.Desc

	mu   sync.Mutex
	last string // the last line logged
}

func newSkipReporter(p tcptable.Provider, log interface{ Printf(string, ...any) }) *skipReporter {
	return &skipReporter{p: p, log: log, desc: prometheus.NewDesc("tcptable_netns_skipped",
		`Network namespaces the last table read could not enter (serve --all-netns), by reason: "permission_denied" or "error"; their endpoints are missing from every series.`,
		[]string{"reason"}, nil)}
}

// wrap returns c with the skipped namespaces' series added after c's own,
// which include the table read.
func (r *skipReporter) wrap(c prometheus.Collector) prometheus.Collector {
	return skipCollector{c, r}
}

// skipCollector is a collector followed by a skipReporter's series.
type skipCollector struct {
	prometheus.Collector
	r *skipReporter
}

func (s skipCollector) Describe(ch chan<- *prometheus.Desc) {
	s.Collector.Describe(ch)
	ch <- s.r.desc
}

func (s skipCollector) Collect(ch chan<- prometheus.Metric) {
	s.Collector.Collect(ch) // reads the table
	sk := netnsSkips(s.r.p)
	ch <- prometheus.MustNewConstMetric(s.r.desc, prometheus.GaugeValue, float64(sk.denied), "permission_denied")
	ch <- prometheus.MustNewConstMetric(s.r.desc, prometheus.GaugeValue, float64(sk.other), "error")
	s.r.note(sk)
}

// note logs sk when its description differs from the last one logged.
func (r *skipReporter) note(sk nsSkips) {
	line := sk.String()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case line == r.last:
		return
	case line == "":
		r.log.Printf("read all %d network namespaces again", sk.total)
	default:
		r.log.Printf("%s", line)
	}
	r.last = line
}
