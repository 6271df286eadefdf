package main

import (
	"context"
	"fmt"
	"html"
	"io"
	"log"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tcptable/tcptable/metrics"
)

// defaultServeListen is where `tcptable serve` listens unless told: the
// loopback interface only (exposing a host's sockets and processes is a
// decision for the operator), on a port not among the exporters'
// conventional ones that we know of (docs/metrics.md).
const defaultServeListen = "127.0.0.1:9814"

// shutdownGrace bounds how long serve waits for scrapes in progress after
// SIGINT or SIGTERM.
const shutdownGrace = 5 * time.Second

// scrapeTimeoutHeader is the header in which Prometheus sends each
// scrape's timeout, in seconds.
const scrapeTimeoutHeader = "X-Prometheus-Scrape-Timeout-Seconds"

// serveUsageIntro and serveUsageOutro frame serve's flags (from flagDefs)
// in "tcptable serve --help".
const (
	serveUsageIntro = `Usage: tcptable serve [flags]

Serves this host's TCP table as Prometheus metrics on /metrics until
interrupted (SIGINT or SIGTERM): connections by state and family, by
process (the busiest ones, the rest as "other"), listeners, and where the
OS permits, connections opened and closed and bytes moved per process;
on Linux by network namespace and by container. With --all-netns it reads
every network namespace of the host (those it may enter: all as root),
with --netns NAME|PATH another one (root). docs/metrics.md lists every
series.
`
	serveUsageOutro = `
Without root (Administrator on Windows) other users' owners are hidden:
tcptable_owners_hidden says how many.
`
)

// serveUsageText returns what "tcptable serve --help" prints.
func serveUsageText() string { return serveUsageIntro + flagsHelp(cmdServe) + serveUsageOutro }

// serveOptions are serve's flags.
type serveOptions struct {
	listen        string
	top           int
	topNetNS      int
	topContainers int
	maxListeners  int
	timeout       time.Duration
}

// defaultServeOptions are serve's flags when not given.
func defaultServeOptions() serveOptions {
	return serveOptions{listen: defaultServeListen, top: metrics.DefaultTopProcesses,
		topNetNS: metrics.DefaultTopNetNS, topContainers: metrics.DefaultTopContainers,
		maxListeners: metrics.DefaultMaxListeners, timeout: metrics.DefaultTimeout}
}

// setCount returns the set function of a flag that takes a count of 0 or
// more, kept in *field(o).
func setCount(name string, field func(o *options) *int) func(*options, *rawFlags, string) error {
	return func(o *options, _ *rawFlags, v string) error {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return usagef("bad %s %q: want a number, 0 or more", name, v)
		case n < 0:
			return usagef("%s %d: must be 0 or more", name, n)
		}
		*field(o) = n
		return nil
	}
}

// setServeTimeout sets serve's --timeout.
func setServeTimeout(o *options, _ *rawFlags, v string) error {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return usagef("bad --timeout %q: want a duration such as 10s", v)
	case d <= 0:
		return usagef("--timeout %v: must be positive", d)
	}
	o.serve.timeout = d
	return nil
}

// serve runs `tcptable serve` until ctx ends.
func (a *app) serve(ctx context.Context, args []string) int {
	all, err := parseCommand(cmdServe, args)
	p, code := a.open(cmdServe, all, err)
	if p == nil {
		return code
	}
	defer p.Close()
	o := &all.serve
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		a.errorf("serve: %v", err)
		return exitFail
	}
	stderr := &lockedWriter{w: a.stderr}
	c := metrics.NewCollector(p,
		metrics.WithTopProcesses(o.top),
		metrics.WithTopNetNS(o.topNetNS),
		metrics.WithTopContainers(o.topContainers),
		metrics.WithMaxListeners(o.maxListeners),
		metrics.WithTimeout(o.timeout),
		metrics.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	defer c.Close()
	errLog := log.New(stderr, "tcptable: serve: ", 0)
	var wrap func(prometheus.Collector) prometheus.Collector
	if all.ns.all {
		wrap = newSkipReporter(p, errLog).wrap
	}
	srv := &http.Server{
		Handler:           newServeMux(c, wrap, errLog),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}
	fmt.Fprintf(stderr, "tcptable: serving metrics on http://%s/metrics\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		a.errorf("serve: %v", err)
		return exitFail
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		a.errorf("serve: shutting down: %v", err)
		return exitFail
	}
	return exitOK
}

// newServeMux serves the index page and /metrics: c, read under the
// scrape's timeout (and passed through wrap, if not nil), plus the Go
// runtime and process collectors.
func newServeMux(c *metrics.Collector, wrap func(prometheus.Collector) prometheus.Collector, errLog promhttp.Logger) *http.ServeMux {
	base := prometheus.NewRegistry()
	base.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	opts := promhttp.HandlerOpts{ErrorLog: errLog}
	scrape := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := scrapeContext(r)
		defer cancel()
		reg := prometheus.NewRegistry()
		view := c.WithContext(ctx)
		if wrap != nil {
			view = wrap(view)
		}
		if err := reg.Register(view); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		promhttp.HandlerFor(prometheus.Gatherers{base, reg}, opts).ServeHTTP(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(base, scrape))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, indexPage, html.EscapeString(versionLine()))
	})
	return mux
}

const indexPage = `<!DOCTYPE html>
<html><head><title>tcptable exporter</title></head>
<body>
<h1>tcptable exporter</h1>
<p>This host's TCP table as Prometheus metrics: <a href="/metrics">/metrics</a>.</p>
<p>%s</p>
</body></html>
`

// scrapeContext returns the request's context, bounded by the scrape
// timeout Prometheus sent, less a margin (a quarter, at most half a second)
// for encoding and the network, so that a slow table read ends in an
// answer that says so (tcptable_scrape_success 0) instead of a scrape
// Prometheus abandons. Without a valid header the collector's own timeout
// applies.
func scrapeContext(r *http.Request) (context.Context, context.CancelFunc) {
	s, err := strconv.ParseFloat(r.Header.Get(scrapeTimeoutHeader), 64)
	if err != nil || !(s > 0) || math.IsInf(s, 1) || s > math.MaxInt64/float64(time.Second) {
		return context.WithCancel(r.Context())
	}
	d := time.Duration(s * float64(time.Second))
	d -= min(d/4, 500*time.Millisecond)
	return context.WithTimeout(r.Context(), d)
}

// lockedWriter serialises the writes of the logger, the HTTP server and
// serve itself to one stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}
