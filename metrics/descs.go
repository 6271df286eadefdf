package metrics

import "github.com/prometheus/client_golang/prometheus"

// descs are the collector's metric descriptors; docs/metrics.md describes
// each series with its labels and cardinality bound.
type descs struct {
	connections        *prometheus.Desc
	processConnections *prometheus.Desc
	listenerInfo       *prometheus.Desc
	listenersOmitted   *prometheus.Desc
	ownersHidden       *prometheus.Desc
	opened             *prometheus.Desc
	closed             *prometheus.Desc
	sent               *prometheus.Desc
	received           *prometheus.Desc
	traceUp            *prometheus.Desc
	traceErrors        *prometheus.Desc
	traceLost          *prometheus.Desc
	scrapeDuration     *prometheus.Desc
	scrapeSuccess      *prometheus.Desc
	scrapeRows         *prometheus.Desc
	scrapeErrors       *prometheus.Desc
	tableReads         *prometheus.Desc
}

func newDescs() descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("tcptable_"+name, help, labels, nil)
	}
	return descs{
		connections: d("connections",
			"TCP endpoints (connections and listeners) by state and address family.", "state", "family"),
		processConnections: d("process_connections",
			`TCP endpoints by owning process name and state: the top N processes by endpoints, the rest as process="other", ownerless endpoints as "[kernel]", "[hidden]" and "[unknown]".`, "process", "state"),
		listenerInfo: d("listener_info",
			"Listening endpoints by local address, port and owning process (always 1), at most the configured number, lowest ports first.", "address", "port", "process"),
		listenersOmitted: d("listeners_omitted",
			"Distinct listening endpoints left out of tcptable_listener_info by its cap."),
		ownersHidden: d("owners_hidden",
			"TCP endpoints whose owning process the exporter may not see (permission denied); run it with more privilege to see them."),
		opened: d("process_connections_opened_total",
			"TCP connections opened (connect or accept), by the opening process, as the kernel trace reports them.", "process"),
		closed: d("process_connections_closed_total",
			"TCP connections closed, by the process the trace last saw holding them, else by the closing row's owner ([kernel] after TIME-WAIT).", "process"),
		sent: d("process_sent_bytes_total",
			"Payload bytes sent over TCP (retransmissions included), by owning process, since the exporter's first table read.", "process"),
		received: d("process_received_bytes_total",
			"Payload bytes received over TCP, by owning process, since the exporter's first table read.", "process"),
		traceUp: d("trace_up",
			"Whether the kernel trace behind the opened and closed counters is running (1) or not (0)."),
		traceErrors: d("trace_errors_total",
			"Kernel traces that ended with an error (each is retried, unless tracing is not supported)."),
		traceLost: d("trace_lost_events_total",
			"Trace events the OS or provider dropped (at least one per loss reported without a count); the opened and closed counters miss them."),
		scrapeDuration: d("scrape_duration_seconds",
			"How long this scrape's table read and its reduction took (how long the scrape waited, when it gave up first)."),
		scrapeSuccess: d("scrape_success",
			"Whether this scrape got a table (1) or not (0: the read failed or timed out, see tcptable_scrape_errors_total)."),
		scrapeRows: d("scrape_rows",
			"Rows (TCP endpoints) in the table read for this scrape."),
		scrapeErrors: d("scrape_errors_total",
			`Scrapes whose table read failed, by reason: "timeout", "canceled", "inconsistent" (the table changed while read; the partial table is still exported) or "error".`, "reason"),
		tableReads: d("scrape_table_reads_total",
			"Table reads; concurrent scrapes share one read."),
	}
}

// describe sends every descriptor.
func (d *descs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{
		d.connections, d.processConnections, d.listenerInfo, d.listenersOmitted, d.ownersHidden,
		d.opened, d.closed, d.sent, d.received, d.traceUp, d.traceErrors, d.traceLost,
		d.scrapeDuration, d.scrapeSuccess, d.scrapeRows, d.scrapeErrors, d.tableReads,
	} {
		ch <- x
	}
}
