package metrics

import "github.com/prometheus/client_golang/prometheus"

// emit sends the series of one result.
func (c *Collector) emit(r *result, k *counters, ch chan<- prometheus.Metric) {
	d := &c.d
	send := func(desc *prometheus.Desc, typ prometheus.ValueType, v float64, labels ...string) {
		m, err := prometheus.NewConstMetric(desc, typ, v, labels...)
		if err != nil {
			m = prometheus.NewInvalidMetric(desc, err)
		}
		ch <- m
	}
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		send(desc, prometheus.GaugeValue, v, labels...)
	}
	counter := func(desc *prometheus.Desc, v float64, labels ...string) {
		send(desc, prometheus.CounterValue, v, labels...)
	}

	gauge(d.scrapeDuration, r.duration.Seconds())
	counter(d.tableReads, float64(k.reads))
	for i, n := range k.scrapeErrors {
		counter(d.scrapeErrors, float64(n), reasonLabels[i])
	}
	if t := r.t; t == nil {
		gauge(d.scrapeSuccess, 0)
	} else {
		gauge(d.scrapeSuccess, 1)
		gauge(d.scrapeRows, float64(t.rows))
		gauge(d.ownersHidden, float64(t.hidden))
		for st := range t.byState {
			for fam, n := range t.byState[st] {
				if n > 0 {
					gauge(d.connections, float64(n), stateLabels[st], familyLabels[fam])
				}
			}
		}
		groups := func(desc *prometheus.Desc, list []groupCount, named bool) {
			for i := range list {
				g := &list[i]
				for st, n := range g.states {
					switch {
					case n == 0:
					case named:
						gauge(desc, float64(n), g.label, g.name, stateLabels[st])
					default:
						gauge(desc, float64(n), g.label, stateLabels[st])
					}
				}
			}
		}
		groups(d.processConnections, t.procs, false)
		groups(d.netnsConnections, t.netns, true)
		groups(d.containerConnections, t.containers, false)
		if c.cfg.stats {
			for i, n := range t.noStats {
				gauge(d.statsUnavailable, float64(n), statsReasonLabels[i])
			}
		}
		for _, l := range t.listeners {
			gauge(d.listenerInfo, 1, l.address, l.port, l.process)
		}
		gauge(d.listenersOmitted, float64(t.omitted))
	}
	if k.trafficSeen {
		for _, v := range k.traffic {
			counter(d.sent, float64(v.v[0]), v.process)
			counter(d.received, float64(v.v[1]), v.process)
			counter(d.retransmitted, float64(v.v[2]), v.process)
		}
	}
	if k.tracing {
		gauge(d.traceUp, boolValue(k.traceUp))
		if k.traceUp {
			src := "unknown"
			if k.traceSource != "" {
				src = labelValue(k.traceSource)
			}
			gauge(d.traceSource, 1, src)
		}
		counter(d.traceErrors, float64(k.traceErrors))
		counter(d.traceLost, float64(k.traceLost))
		for i, n := range k.unattributed {
			counter(d.traceUnattributed, float64(n), unattributedLabels[i])
		}
		for _, v := range k.churn {
			counter(d.opened, float64(v.v[0]), v.process)
			counter(d.closed, float64(v.v[1]), v.process)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
