package main

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/mock"
)

// server is a running `tcptable serve`.
type server struct {
	url    string // http://127.0.0.1:PORT
	stderr *syncBuffer
	stop   func() int // ends it as SIGINT would and returns its exit code
}

var servingLine = regexp.MustCompile(`serving metrics on (http://[^/\s]+)/metrics`)

// startServe runs `tcptable serve --listen 127.0.0.1:0 args...` over p in
// this process and waits until it listens.
func startServe(t *testing.T, p tcptable.Provider, args ...string) *server {
	t.Helper()
	a, _, _ := testApp(p)
	return startServeApp(t, a, args...)
}

// startServeApp is startServe with the app given.
func startServeApp(t *testing.T, a *app, args ...string) *server {
	t.Helper()
	stderr := newSyncBuffer()
	a.stderr = stderr
	ctx, cancel := context.WithCancel(context.Background())
	code := make(chan int, 1)
	go func() { code <- a.run(ctx, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)) }()
	s := &server{stderr: stderr}
	var once sync.Once
	exit := -1
	s.stop = func() int {
		once.Do(func() {
			cancel()
			select {
			case exit = <-code:
			case <-time.After(30 * time.Second):
				t.Error("serve does not stop when its context ends")
			}
		})
		return exit
	}
	t.Cleanup(func() { s.stop() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingLine.FindStringSubmatch(stderr.String()); m != nil {
			s.url = m[1]
			return s
		}
		select {
		case c := <-code:
			t.Fatalf("serve exited with %d: %s", c, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("serve did not say where it listens: %q", stderr.String())
	return nil
}

// get fetches url with the headers given as name, value pairs.
func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServe(t *testing.T) {
	p := mock.New(linuxRows()...)
	s := startServe(t, p, "--top-processes", "1", "--max-listeners", "1")

	code, body := get(t, s.url+"/")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<a href="/metrics">`)
	code, _ = get(t, s.url+"/nothing-here")
	assert.Equal(t, http.StatusNotFound, code)

	code, body = get(t, s.url+"/metrics")
	require.Equal(t, http.StatusOK, code, body)
	for _, line := range []string{
		`tcptable_connections{family="ipv4",state="established"} 3`,
		`tcptable_connections{family="ipv6",state="listen"} 1`,
		`tcptable_process_connections{process="nginx",state="listen"} 1`, // the top process
		`tcptable_process_connections{process="other",state="listen"} 2`, // sshd's two
		`tcptable_process_connections{process="[hidden]",state="established"} 1`,
		`tcptable_listener_info{address="0.0.0.0",port="22",process="sshd"} 1`,
		`tcptable_listeners_omitted 2`,
		`tcptable_owners_hidden 1`,
		`tcptable_scrape_success 1`,
		`tcptable_scrape_rows 8`,
		`promhttp_metric_handler_requests_total{code="200"} 0`,
	} {
		assert.True(t, strings.Contains(body, "\n"+line+"\n"), "no line %s", line)
	}
	assert.Regexp(t, `(?m)^go_goroutines \d+$`, body, "the Go collector")
	_, body = get(t, s.url+"/metrics")
	assert.Contains(t, body, `promhttp_metric_handler_requests_total{code="200"} 1`+"\n")
	assert.Contains(t, body, "tcptable_scrape_table_reads_total 2\n")

	assert.Equal(t, exitOK, s.stop())
	assert.Regexp(t, `^tcptable: serving metrics on http://127\.0\.0\.1:\d+/metrics\n$`, s.stderr.String(), "nothing but the address on stderr")
}

// TestServeScrapeTimeout: a table read slower than the scrape timeout
// Prometheus sends ends in time with an answer that says so.
func TestServeScrapeTimeout(t *testing.T) {
	p := mock.New(linuxRows()...)
	s := startServe(t, p, "--timeout", "10m")
	p.SetLatency(time.Hour)
	code, body := get(t, s.url+"/metrics", scrapeTimeoutHeader, "0.5")
	require.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "tcptable_scrape_success 0\n")
	assert.Contains(t, body, `tcptable_scrape_errors_total{reason="timeout"} 1`+"\n")
	assert.NotContains(t, body, "tcptable_connections{")

	// --timeout bounds reads when no header comes.
	s2 := startServe(t, p, "--timeout", "100ms")
	_, body = get(t, s2.url+"/metrics")
	assert.Contains(t, body, `tcptable_scrape_errors_total{reason="timeout"} 1`+"\n")

	// A bad header is ignored (once the reads that timed out have ended:
	// until then a scrape joins them).
	p.SetLatency(0)
	require.Eventually(t, func() bool {
		_, body = get(t, s.url+"/metrics", scrapeTimeoutHeader, "not a number")
		return strings.Contains(body, "tcptable_scrape_success 1\n")
	}, 30*time.Second, 10*time.Millisecond, "a bad header is ignored")
}

func TestScrapeContext(t *testing.T) {
	for _, tc := range []struct {
		header string
		want   time.Duration // 0: no deadline
	}{
		{"10", 9500 * time.Millisecond},
		{"2", 1500 * time.Millisecond},
		{"1", 750 * time.Millisecond},
		{"0.25", 187500 * time.Microsecond},
		{"", 0}, {"0", 0}, {"-1", 0}, {"NaN", 0}, {"+Inf", 0}, {"1e300", 0}, {"ten", 0},
	} {
		r, err := http.NewRequest(http.MethodGet, "/metrics", nil)
		require.NoError(t, err)
		if tc.header != "" {
			r.Header.Set(scrapeTimeoutHeader, tc.header)
		}
		start := time.Now()
		ctx, cancel := scrapeContext(r)
		dl, ok := ctx.Deadline()
		cancel()
		if tc.want == 0 {
			assert.False(t, ok, "header %q", tc.header)
			continue
		}
		require.True(t, ok, "header %q", tc.header)
		assert.InDelta(t, tc.want.Seconds(), dl.Sub(start).Seconds(), 0.05, "header %q", tc.header)
	}
}

func TestServeArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--listen="}, "empty --listen: want an address, such as " + defaultServeListen},
		{[]string{"--listen"}, "flag --listen needs a value"},
		{[]string{"--listen", "a:1", "--listen", "b:2"}, "--listen given twice"},
		{[]string{"--top-processes", "-1"}, "--top-processes -1: must be 0 or more"},
		{[]string{"--top-processes", "ten"}, `bad --top-processes "ten"`},
		{[]string{"--max-listeners=-2"}, "--max-listeners -2"},
		{[]string{"--timeout", "0s"}, "--timeout 0s: must be positive"},
		{[]string{"--timeout", "soon"}, `bad --timeout "soon": want a duration`},
		{[]string{"--bogus"}, "unknown flag --bogus"},
		{[]string{"-l"}, "unknown flag -l"}, // the listing's flags are not serve's
		{[]string{"extra"}, `unexpected argument "extra" (tcptable serve takes flags only)`},
		{[]string{"--listen", "256.0.0.1:1"}, ""}, // parses; fails to listen (exit 1)
	} {
		a, stdout, stderr := testApp(mock.New())
		code := a.run(context.Background(), append([]string{"serve"}, tc.args...))
		if tc.err == "" {
			assert.Equal(t, exitFail, code, "%v", tc.args)
			assert.Contains(t, stderr.String(), "tcptable: serve: listen tcp", "%v", tc.args)
			continue
		}
		assert.Equal(t, exitUsage, code, "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.err, "%v", tc.args)
		assert.True(t, strings.HasSuffix(stderr.String(), "(see tcptable serve --help)\n"), "%q", stderr.String())
		assert.Empty(t, stdout.String())
	}
	a, stdout, _ := testApp(mock.New())
	assert.Equal(t, exitOK, a.run(context.Background(), []string{"serve", "--help"}))
	assert.Contains(t, stdout.String(), "Usage: tcptable serve")
	assert.Contains(t, stdout.String(), defaultServeListen)
}

func TestServeListenDefaultIsLoopback(t *testing.T) {
	ap, err := netip.ParseAddrPort(defaultServeListen)
	require.NoError(t, err)
	assert.True(t, ap.Addr().IsLoopback())
}

// TestServeGracefulShutdown: a scrape in progress when serve is told to
// stop gets its whole answer, and serve exits 0.
func TestServeGracefulShutdown(t *testing.T) {
	p := mock.New(linuxRows()...)
	s := startServe(t, p)
	p.SetLatency(500 * time.Millisecond)
	type answer struct {
		code int
		body string
	}
	done := make(chan answer, 1)
	go func() {
		code, body := get(t, s.url+"/metrics")
		done <- answer{code, body}
	}()
	require.Eventually(t, func() bool { return len(p.Queries()) == 1 }, 30*time.Second, time.Millisecond, "the scrape must reach the table read")
	assert.Equal(t, exitOK, s.stop())
	a := <-done
	assert.Equal(t, http.StatusOK, a.code)
	assert.Contains(t, a.body, "tcptable_scrape_success 1\n")
	_, err := http.Get(s.url + "/metrics")
	assert.Error(t, err, "serve no longer listens")
}

// TestServeNetNS: serve takes the namespace flags; with --all-netns the
// namespace and container series are bounded by --top-netns and
// --top-containers, and the skipped namespaces have series of their own.
func TestServeNetNS(t *testing.T) {
	var got nsOptions
	a, _, _ := nsApp(mock.New(nsRows()...), &got)
	s := startServeApp(t, a, "--all-netns", "--top-netns", "1", "--top-containers", "1")
	assert.Equal(t, nsOptions{all: true}, got)
	_, body := get(t, s.url+"/metrics")
	for _, line := range []string{
		`tcptable_netns_connections{netns="4026532417",netns_name="",state="listen"} 2`,
		`tcptable_netns_connections{netns="4026532417",netns_name="",state="established"} 1`,
		`tcptable_netns_connections{netns="other",netns_name="",state="listen"} 2`,
		`tcptable_netns_connections{netns="other",netns_name="",state="established"} 1`,
		`tcptable_container_connections{container="` + webContainer + `",state="listen"} 1`,
		`tcptable_container_connections{container="other",state="listen"} 1`,
		`tcptable_container_connections{container="[none]",state="listen"} 2`,
		`tcptable_netns_skipped{reason="permission_denied"} 0`,
		`tcptable_netns_skipped{reason="error"} 0`,
	} {
		assert.True(t, strings.Contains(body, "\n"+line+"\n"), "no line %s in\n%s", line, body)
	}
	assert.Equal(t, 4, strings.Count(body, "\ntcptable_netns_connections{"), "top 1, other, and their states only")

	a, _, _ = nsApp(mock.New(nsRows()...), &got)
	s = startServeApp(t, a, "--netns", "blue", "--top-netns", "0")
	assert.Equal(t, nsOptions{netns: "blue"}, got)
	_, body = get(t, s.url+"/metrics")
	assert.NotContains(t, body, "tcptable_netns_connections{", "--top-netns 0")
	assert.NotContains(t, body, "tcptable_netns_skipped", "one namespace: nothing to skip")
	assert.Contains(t, body, "\ntcptable_container_connections{")

	for _, tc := range []struct{ args, err string }{
		{"--top-netns -1", "--top-netns -1: must be 0 or more"},
		{"--top-containers x", `bad --top-containers "x"`},
		{"--netns blue --all-netns", "--netns and --all-netns exclude each other"},
	} {
		a, _, stderr := testApp(mock.New())
		assert.Equal(t, exitUsage, a.run(context.Background(), append([]string{"serve"}, strings.Fields(tc.args)...)), tc.args)
		assert.Contains(t, stderr.String(), tc.err, tc.args)
	}
	a, stdout, _ := testApp(mock.New())
	assert.Equal(t, exitOK, a.run(context.Background(), []string{"serve", "--help"}))
	for _, flag := range []string{"--all-netns", "--netns NAME|PATH", "--top-netns N", "--top-containers N"} {
		assert.Contains(t, stdout.String(), flag)
	}
}
