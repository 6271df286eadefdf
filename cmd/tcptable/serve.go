package main

import (
	"context"
	"flag"
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

const serveUsageText = `Usage: tcptable serve [flags]

Serves this host's TCP table as Prometheus metrics on /metrics until
interrupted (SIGINT or SIGTERM): connections by state and family, by
process (the busiest ones, the rest as "other"), listeners, and where the
OS permits, connections opened and closed and bytes moved per process.
docs/metrics.md lists every series.

Flags:
      --listen ADDR          address to serve on (default ` + defaultServeListen + `;
                             use :9814 to serve on every interface)
      --top-processes N      processes with series of their own (default 10)
      --max-listeners N      listener series at most (default 100)
      --timeout DURATION     longest table read when Prometheus sends no
                             scrape timeout (default 10s)
  -h, --help                 this help

Without root (Administrator on Windows) other users' owners are hidden:
tcptable_owners_hidden says how many.
`

// serveOptions is a parsed `tcptable serve` command line.
type serveOptions struct {
	listen       string
	top          int
	maxListeners int
	timeout      time.Duration
	help         bool
}

// parseServeArgs parses the arguments after "serve".
func parseServeArgs(args []string) (*serveOptions, error) {
	o := &serveOptions{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.listen, "listen", defaultServeListen, "")
	fs.IntVar(&o.top, "top-processes", metrics.DefaultTopProcesses, "")
	fs.IntVar(&o.maxListeners, "max-listeners", metrics.DefaultMaxListeners, "")
	fs.DurationVar(&o.timeout, "timeout", metrics.DefaultTimeout, "")
	fs.BoolVar(&o.help, "help", false, "")
	fs.BoolVar(&o.help, "h", false, "")
	if err := fs.Parse(args); err != nil {
		return nil, usagef("serve: %v", err)
	}
	switch {
	case fs.NArg() > 0:
		return nil, usagef("serve: unexpected argument %q", fs.Arg(0))
	case o.listen == "":
		return nil, usagef("serve: --listen needs an address, such as %s", defaultServeListen)
	case o.top < 0:
		return nil, usagef("serve: --top-processes %d: must be 0 or more", o.top)
	case o.maxListeners < 0:
		return nil, usagef("serve: --max-listeners %d: must be 0 or more", o.maxListeners)
	case o.timeout <= 0:
		return nil, usagef("serve: --timeout %v: must be positive", o.timeout)
	}
	return o, nil
}

// serve runs `tcptable serve` until ctx ends.
func (a *app) serve(ctx context.Context, args []string) int {
	o, err := parseServeArgs(args)
	if err != nil {
		fmt.Fprintf(a.stderr, "tcptable: %v (see tcptable serve --help)\n", err)
		return exitUsage
	}
	if o.help {
		fmt.Fprint(a.stdout, serveUsageText)
		return exitOK
	}
	p, err := a.newProvider()
	if err != nil {
		a.errorf("%v", err)
		return exitFail
	}
	defer p.Close()
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		a.errorf("serve: %v", err)
		return exitFail
	}
	stderr := &lockedWriter{w: a.stderr}
	c := metrics.NewCollector(p,
		metrics.WithTopProcesses(o.top),
		metrics.WithMaxListeners(o.maxListeners),
		metrics.WithTimeout(o.timeout),
		metrics.WithLogger(slog.New(slog.NewTextHandler(stderr, nil))))
	defer c.Close()
	errLog := log.New(stderr, "tcptable: serve: ", 0)
	srv := &http.Server{
		Handler:           newServeMux(c, errLog),
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
// scrape's timeout, plus the Go runtime and process collectors.
func newServeMux(c *metrics.Collector, errLog promhttp.Logger) *http.ServeMux {
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
		if err := reg.Register(c.WithContext(ctx)); err != nil {
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
