// Package metrics exports a host's TCP table to Prometheus: a
// prometheus.Collector over any tcptable.Provider, following the
// client_golang and node_exporter conventions (const metrics built per
// scrape, base units, _total counters, bounded label sets).
//
//	p, err := native.New()
//	...
//	c := metrics.NewCollector(p)
//	defer c.Close()
//	prometheus.MustRegister(c)
//
// `tcptable serve` serves it over HTTP; docs/metrics.md has example
// queries and an OpenTelemetry collector configuration.
//
// # Series
//
// Per scrape, from one table read (N is WithTopProcesses, default 10; M
// WithTopNetNS and C WithTopContainers, default 10 each; L is
// WithMaxListeners, default 100; bounds are the most series a name can
// have; the namespace series exist where rows carry a namespace, the
// container series in scrapes where some row names a container):
//
//	tcptable_connections{state, family}             gauge  ≤ 13 × 2
//	tcptable_process_connections{process, state}    gauge  ≤ (N + 4) × 13
//	tcptable_netns_connections{netns, netns_name, state}  gauge  ≤ (M + 2) × 13
//	tcptable_container_connections{container, state}      gauge  ≤ (C + 2) × 13
//	tcptable_listener_info{address, port, process}  gauge  ≤ L (value 1)
//	tcptable_listeners_omitted                      gauge  listeners cut by L
//	tcptable_owners_hidden                          gauge  rows whose owner is permission-denied
//	tcptable_stats_unavailable{reason}              gauge  ≤ 4, rows without Stats (with Query.Stats)
//	tcptable_scrape_success                         gauge  1 when the table was read
//	tcptable_scrape_duration_seconds                gauge
//	tcptable_scrape_rows                            gauge
//	tcptable_scrape_errors_total{reason}            counter ≤ 4
//	tcptable_scrape_table_reads_total               counter
//
// When the provider fills Connection.Stats (Query.Stats), accumulated
// between reads:
//
//	tcptable_process_sent_bytes_total{process}      counter ≤ N + 4
//	tcptable_process_received_bytes_total{process}  counter ≤ N + 4
//	tcptable_process_retransmitted_segments_total{process}  counter ≤ N + 4
//
// When the provider implements tcptable.Tracer, counted from its trace,
// which the collector follows from NewCollector to Close:
//
//	tcptable_process_connections_opened_total{process}  counter ≤ N + 4
//	tcptable_process_connections_closed_total{process}  counter ≤ N + 4
//	tcptable_trace_up                                   gauge
//	tcptable_trace_source_info{source}                  gauge  1 while up
//	tcptable_trace_errors_total                         counter
//	tcptable_trace_lost_events_total                    counter
//	tcptable_trace_opens_unattributed_total{reason}     counter ≤ 2
//
// An accepted connection is born in its listener's accept queue, owned by
// no process; its open is held (5 s at most, 4096 opens at most) until an
// event names the process that accepted it, and counted for that process,
// once. Opens counted without their owner (timeout or overflow) are
// counted in tcptable_trace_opens_unattributed_total.
//
// Never one series per connection, nor per PID: processes are told apart
// by name (Module.Name), so a restarted process keeps its series.
//
// # Labels
//
// state is the State's name in lower case with hyphens as underscores
// (established, syn_received, fin_wait_1, time_wait, ...; "unknown" for a
// value outside the MIB range); family is ipv4 or ipv6.
//
// process is the owning process' name. Beside the top N names it takes
// four reserved values: "other" (every process outside the top N),
// "[kernel]" (rows the kernel owns: TIME-WAIT, orphans), "[hidden]" (rows
// whose owner the exporter may not see) and "[unknown]" (no name for any
// other reason). A name that is not printable UTF-8, or that equals a
// reserved value, is shown Go-quoted, so no control byte reaches a
// terminal and no process poses as a bucket.
//
// netns is the namespace's inode number (Connection.NetNS), netns_name its
// name under /run/netns or "" (quoted like a process name when not
// printable); container is the container ID (Connection.Container). Beside
// the top M (C) values they take "other" and "[unknown]" (rows of no
// known namespace) or "[none]" (rows of no container).
//
// The gauges rank processes by rows in each scrape. The counters cannot
// (a counter must never decrease): a process keeps its series once it has
// one; at most N have one, increments of the others go to "other"; a
// process busier (decayed over a 5-minute half-life) than twice the least
// busy one takes that one's place, whose series then ends. So every
// increment is counted exactly once, in one series, and sum(rate(...))
// over process is exact.
//
// # Byte counters
//
// The byte and retransmission counters come from Stats.BytesSent,
// BytesReceived and Retransmits. The per-connection counters the OS keeps
// are monotonic, but connections
// come and go. The collector remembers each connection's counters (by Key)
// at the last read and adds the difference at the next one to the
// connection's process; a connection first seen after the first read adds
// all its counters, as does a new connection on a reused address (counters
// lower than remembered, or another socket). The totals count from the
// collector's first read. What a connection moved between the last read
// that showed it and its close is counted only when the trace reports the
// close with final counters; connections that are born and die between two
// reads likewise.
//
// # Reads
//
// Collect reads the table once, bounded by WithTimeout; concurrent
// collects share one read. WithContext gives a view whose reads end at a
// context's deadline, so that an HTTP handler can honour the scrape
// timeout Prometheus sends. A failed read exports tcptable_scrape_success
// 0 and the counters, without the table's gauges; a read the provider
// reports inconsistent (tcptable.ErrInconsistent) exports its partial
// table and counts an error.
package metrics
