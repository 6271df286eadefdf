package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// descs are the collector's metric descriptors; docs/metrics.md describes
// each series with its labels and cardinality bound.
type descs struct {
	connections          *prometheus.Desc
	processConnections   *prometheus.Desc
	netnsConnections     *prometheus.Desc
	containerConnections *prometheus.Desc
	statsUnavailable     *prometheus.Desc
	listenerInfo         *prometheus.Desc
	listenersOmitted     *prometheus.Desc
	ownersHidden         *prometheus.Desc
	opened               *prometheus.Desc
	closed               *prometheus.Desc
	sent                 *prometheus.Desc
	received             *prometheus.Desc
	retransmitted        *prometheus.Desc
	traceUp              *prometheus.Desc
	traceSource          *prometheus.Desc
	traceErrors          *prometheus.Desc
	traceLost            *prometheus.Desc
	traceUnattributed    *prometheus.Desc
	scrapeDuration       *prometheus.Desc
	scrapeSuccess        *prometheus.Desc
	scrapeRows           *prometheus.Desc
	scrapeErrors         *prometheus.Desc
	tableReads           *prometheus.Desc
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
		netnsConnections: d("netns_connections",
			`TCP endpoints by network namespace (inode, and name under /run/netns if any) and state: the top N namespaces by endpoints, the rest as netns="other", endpoints of no known namespace as "[unknown]".`, "netns", "netns_name", "state"),
		containerConnections: d("container_connections",
			`TCP endpoints by the owning process's container and state: the top N containers by endpoints, the rest as container="other", endpoints of no container as "[none]"; only in scrapes where some endpoint is a container's.`, "container", "state"),
		statsUnavailable: d("stats_unavailable",
			`TCP endpoints in this scrape without per-connection statistics, which the byte counters therefore do not follow, by reason: "not_available" (the OS keeps none for the endpoint, as for TIME-WAIT and pending connections), "permission_denied", "not_supported" or "unknown".`, "reason"),
		listenerInfo: d("listener_info",
			"Listening endpoints by local address, port and owning process (always 1), at most the configured number, lowest ports first.", "address", "port", "process"),
		listenersOmitted: d("listeners_omitted",
			"Distinct listening endpoints left out of tcptable_listener_info by its cap."),
		ownersHidden: d("owners_hidden",
			"TCP endpoints whose owning process the exporter may not see (permission denied); run it with more privilege to see them."),
		opened: d("process_connections_opened_total",
			"TCP connections opened (connect or accept), as the kernel trace reports them, by the connecting or accepting process (an accepted connection counts once a process owns it).", "process"),
		closed: d("process_connections_closed_total",
			"TCP connections closed, by the process the trace last saw holding them, else by the closing row's owner ([kernel] after TIME-WAIT).", "process"),
		sent: d("process_sent_bytes_total",
			"Payload bytes sent over TCP (retransmissions included), by owning process, since the exporter's first table read.", "process"),
		received: d("process_received_bytes_total",
			"Payload bytes received over TCP, by owning process, since the exporter's first table read.", "process"),
		retransmitted: d("process_retransmitted_segments_total",
			"TCP segments retransmitted, by owning process, since the exporter's first table read.", "process"),
		traceUp: d("trace_up",
			"Whether the kernel trace behind the opened and closed counters is running (1) or not (0)."),
		traceSource: d("trace_source_info",
			`The source of the running kernel trace (always 1, only while tcptable_trace_up is 1), as the provider names it: on Linux "bpf" (every change as the kernel makes it, accepted connections attributed) or "sock_diag" (without the privilege for BPF: closes as the kernel reports them, the rest from polling the table); "unknown" when the provider does not say.`, "source"),
		traceErrors: d("trace_errors_total",
			"Kernel traces that ended with an error (each is retried, unless tracing is not supported)."),
		traceLost: d("trace_lost_events_total",
			"Trace events the OS or provider dropped (at least one per loss reported without a count); the opened and closed counters miss them."),
		traceUnattributed: d("trace_opens_unattributed_total",
			`Traced connections opened owned by the kernel (as an accepted connection is, in its listener's accept queue) that were counted for [kernel] instead of the process that came to own them, by reason: "timeout" (no process owned it within `+openHold.String()+`) or "overflow" (`+strconv.Itoa(maxHeldOpens)+` opens were already waiting for their owner).`, "reason"),
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
		d.connections, d.processConnections, d.netnsConnections, d.containerConnections, d.statsUnavailable, d.listenerInfo, d.listenersOmitted, d.ownersHidden,
		d.opened, d.closed, d.sent, d.received, d.retransmitted, d.traceUp, d.traceSource, d.traceErrors, d.traceLost, d.traceUnattributed,
		d.scrapeDuration, d.scrapeSuccess, d.scrapeRows, d.scrapeErrors, d.tableReads,
	} {
		ch <- x
	}
}
