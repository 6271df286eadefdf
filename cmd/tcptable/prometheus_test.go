package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/nativetest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/mock"
	"github.com/tcptable/tcptable/providers/native"
)

// prometheusEnv names the Prometheus server binary the integration tests
// run; without it they look for prometheus on PATH.
const prometheusEnv = "TCPTABLE_PROMETHEUS"

// prometheusBinary returns the Prometheus server to test with, or skips.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	if underWine() {
		// Not a missing requirement: the server tests run on the Linux
		// host itself, where CI's Prometheus binary runs.
		t.Skip("under Wine: the Prometheus server tests run natively on the host")
	}
	if p := os.Getenv(prometheusEnv); p != "" {
		return p
	}
	p, err := exec.LookPath("prometheus")
	if err != nil {
		testenv.SkipOrFail(t, "no Prometheus server: set %s=/path/to/prometheus or put prometheus on PATH (apt-get install prometheus, or go install github.com/prometheus/prometheus/cmd/prometheus@v0.316.0)", prometheusEnv)
	}
	return p
}

// promServer is a Prometheus server that scrapes one target, run on
// 127.0.0.1 with its storage in a temporary directory.
type promServer struct {
	api string // http://127.0.0.1:PORT
	out *syncBuffer
}

// scrapeEvery is the test server's scrape interval and timeout: the
// timeout it sends in X-Prometheus-Scrape-Timeout-Seconds.
const scrapeEvery = 2 * time.Second

// startPrometheus starts bin scraping target (host:port) every
// scrapeEvery, and waits until it is ready. The test's cleanup kills it.
func startPrometheus(t *testing.T, bin, target string) *promServer {
	t.Helper()
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
scrape_configs:
  - job_name: tcptable
    static_configs:
      - targets: [%[2]q]
`, scrapeEvery, target)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	ln.Close()
	s := &promServer{api: "http://" + addr, out: newSyncBuffer()}
	cmd := exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	cmd.Stdout, cmd.Stderr = s.out, s.out
	require.NoError(t, cmd.Start(), "starting %s", bin)
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus output:\n%s", s.out.String())
		}
	})
	s.waitFor(t, "the server to be ready", func() bool {
		resp, err := http.Get(s.api + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return s
}

// waitFor polls cond until it holds, for a minute at most.
func (s *promServer) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; prometheus says:\n%s", what, s.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// query evaluates an instant PromQL query through the HTTP API and returns
// each sample's value by its labels (without __name__, job and instance),
// written as k="v",... in name order.
func (s *promServer) query(t *testing.T, q string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(s.api + "/api/v1/query?query=" + url.QueryEscape(q))
	require.NoError(t, err)
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.Equal(t, "success", body.Status, "query %s: %s", q, body.Error)
	require.Equal(t, "vector", body.Data.ResultType, "query %s", q)
	out := map[string]float64{}
	for _, r := range body.Data.Result {
		var ls []string
		for k, v := range r.Metric {
			if k != "__name__" && k != "job" && k != "instance" {
				ls = append(ls, k+"="+strconv.Quote(v))
			}
		}
		slices.Sort(ls)
		str, ok := r.Value[1].(string)
		require.True(t, ok, "query %s: value %v", q, r.Value)
		v, err := strconv.ParseFloat(str, 64)
		require.NoError(t, err)
		out[strings.Join(ls, ",")] = v
	}
	return out
}

// eventually waits until query q answers want.
func (s *promServer) eventually(t *testing.T, q string, want map[string]float64) {
	t.Helper()
	var got map[string]float64
	s.waitFor(t, fmt.Sprintf("%s to be %v (last %v)", q, want, &got), func() bool {
		got = s.query(t, q)
		return assertEqualQuiet(want, got)
	})
}

func assertEqualQuiet(want, got map[string]float64) bool {
	if len(want) != len(got) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// TestPrometheusScrapesServe: a real Prometheus server scrapes
// `tcptable serve` over the mock, and every value read back through
// Prometheus' query API is the one the table implies; a change to the
// table shows in the next scrapes; a table read slower than the scrape
// timeout Prometheus sends still ends in a successful scrape that says so.
func TestPrometheusScrapesServe(t *testing.T) {
	bin := prometheusBinary(t)
	p := mock.New(linuxRows()...)
	srv := startServe(t, p)
	prom := startPrometheus(t, bin, strings.TrimPrefix(srv.url, "http://"))

	prom.eventually(t, `up{job="tcptable"}`, map[string]float64{"": 1})
	prom.eventually(t, `tcptable_connections`, map[string]float64{
		`family="ipv4",state="established"`: 3,
		`family="ipv4",state="listen"`:      2,
		`family="ipv4",state="time_wait"`:   1,
		`family="ipv6",state="close_wait"`:  1,
		`family="ipv6",state="listen"`:      1,
	})
	assert.Equal(t, map[string]float64{
		`process="[hidden]",state="established"`:    1,
		`process="[kernel]",state="time_wait"`:      1,
		`process="avahi-daemon",state="close_wait"`: 1,
		`process="curl",state="established"`:        1,
		`process="nginx",state="established"`:       1,
		`process="nginx",state="listen"`:            1,
		`process="sshd",state="listen"`:             2,
	}, prom.query(t, `tcptable_process_connections`))
	assert.Equal(t, map[string]float64{
		`address="0.0.0.0",port="22",process="sshd"`:      1,
		`address="::",port="22",process="sshd"`:           1,
		`address="127.0.0.1",port="8080",process="nginx"`: 1,
	}, prom.query(t, `tcptable_listener_info`))
	assert.Equal(t, map[string]float64{"": 1}, prom.query(t, `tcptable_owners_hidden`))
	assert.Equal(t, map[string]float64{"": 1}, prom.query(t, `tcptable_scrape_success`))
	assert.Equal(t, map[string]float64{"": 8}, prom.query(t, `tcptable_scrape_rows`))
	assert.Equal(t, map[string]float64{"": 1}, prom.query(t, `count(go_goroutines)`), "the Go collector")

	// A new listener appears: the query for listeners that were not there
	// a little earlier finds it.
	p.Add(tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort("0.0.0.0:9090"),
		PID: 77, Module: tcptable.Module{Name: "newcomer"}})
	prom.eventually(t, `tcptable_listener_info unless tcptable_listener_info offset 3s`,
		map[string]float64{`address="0.0.0.0",port="9090",process="newcomer"`: 1})

	// Connections the mock's trace reports opened and closed between
	// scrapes are counted, and the documented query names the process
	// that opens the most per minute.
	prom.eventually(t, `tcptable_trace_up`, map[string]float64{"": 1})
	self, err := os.Executable()
	require.NoError(t, err)
	me := `process="` + filepath.Base(self) + `"`
	churn := func() {
		for range 3 {
			pair, err := p.Dial("tcp4")
			require.NoError(t, err)
			require.NoError(t, pair.CloseActive())
			require.NoError(t, pair.Close())
		}
		p.Flush()
	}
	churn()
	prom.eventually(t, `tcptable_process_connections_opened_total`, map[string]float64{me: 6})
	churn()
	prom.eventually(t, `tcptable_process_connections_closed_total`, map[string]float64{me: 12})
	top := prom.query(t, `topk(5, sum by (process) (rate(tcptable_process_connections_opened_total[1m])) * 60)`)
	require.Len(t, top, 1, "%v", top)
	assert.Positive(t, top[me], "%v", top)

	// Events the trace drops are counted, not hidden: two opens lost.
	p.LoseEvents(2)
	lost, err := p.Dial("tcp4")
	require.NoError(t, err)
	p.Flush()
	prom.eventually(t, `tcptable_trace_lost_events_total`, map[string]float64{"": 2})
	assert.Equal(t, map[string]float64{me: 12}, prom.query(t, `tcptable_process_connections_opened_total`), "the lost opens are not counted")
	require.NoError(t, lost.Close())

	// Bytes a pair born since the last scrape moves count, all of them,
	// for its process: sent by the client and by the server.
	pair, err := p.Dial("tcp4")
	require.NoError(t, err)
	defer pair.Close()
	require.NoError(t, pair.(conformance.TransferPair).Transfer(100_000, 2_500))
	prom.eventually(t, `tcptable_process_sent_bytes_total`, map[string]float64{me: 102_500})
	prom.eventually(t, `tcptable_process_received_bytes_total`, map[string]float64{me: 102_500})
	require.NoError(t, pair.(conformance.TransferPair).Transfer(7, 0))
	prom.eventually(t, `tcptable_process_sent_bytes_total`, map[string]float64{me: 102_507})

	// Every query docs/metrics.md shows is valid PromQL over these series.
	for _, q := range documentedQueries(t) {
		prom.query(t, q)
	}

	// A read slower than the scrape timeout: serve answers within the
	// timeout Prometheus sends, so every scrape succeeds (up stays 1) and
	// says the table was not read.
	p.SetLatency(time.Hour)
	slow := time.Now()
	prom.waitFor(t, "three scrapes to time out", func() bool {
		return prom.query(t, `tcptable_scrape_errors_total{reason="timeout"}`)[`reason="timeout"`] >= 3
	})
	window := strconv.Itoa(int(time.Since(slow).Seconds())+1) + "s"
	assert.Equal(t, map[string]float64{"": 1}, prom.query(t, `min_over_time(up{job="tcptable"}[`+window+`])`),
		"every scrape while the table is slow must still answer in time")
	assert.Equal(t, map[string]float64{"": 0}, prom.query(t, `tcptable_scrape_success`))
	p.SetLatency(0)
}

// TestPrometheusScrapesRealTable: Prometheus scrapes `tcptable serve` over
// this host's own table and finds the listener and the connection this
// test holds, owned by this process.
func TestPrometheusScrapesRealTable(t *testing.T) {
	bin := prometheusBinary(t)
	nativetest.Skip(t, "serve is covered against the mock")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	received := make(chan int64, 1)
	wg.Go(func() {
		if c, err := ln.Accept(); err == nil {
			defer c.Close()
			n, _ := io.Copy(io.Discard, c) // until the client closes
			received <- n
		}
	})
	conn, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	a, _, _ := testApp(nil)
	a.newProvider = native.New
	srv := startServeApp(t, a, "--max-listeners", "100000", "--top-processes", "100000")
	prom := startPrometheus(t, bin, strings.TrimPrefix(srv.url, "http://"))

	self := selfName(t)
	prom.eventually(t, `tcptable_listener_info{port="`+port+`"}`,
		map[string]float64{`address="127.0.0.1",port="` + port + `",process="` + self + `"`: 1})
	got := prom.query(t, `tcptable_process_connections{process="`+self+`",state="established"}`)
	assert.GreaterOrEqual(t, got[`process="`+self+`",state="established"`], 2.0, "both ends of the test's connection, and serve's own")
	got = prom.query(t, `sum(tcptable_connections{state="established",family="ipv4"})`)
	assert.GreaterOrEqual(t, got[""], 4.0, "the test's pair and the scrape's own connection")

	// The pair was there at the first read (the baseline): what it moves
	// since counts, and Prometheus reads at least that back.
	const k = 1 << 20
	_, err = conn.Write(make([]byte, k))
	require.NoError(t, err)
	sent := `tcptable_process_sent_bytes_total{process="` + self + `"}`
	var last map[string]float64
	prom.waitFor(t, fmt.Sprintf("%s to reach %d (last %v)", sent, k, &last), func() bool {
		last = prom.query(t, sent)
		return last[`process="`+self+`"`] >= k
	})
	conn.Close()
	assert.Equal(t, int64(k), <-received)
}

// selfName is the process name a provider reports for this process.
func selfName(t *testing.T) string {
	t.Helper()
	p, err := native.New()
	require.NoError(t, err)
	defer p.Close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	rows, err := p.Table(t.Context(), tcptable.Query{Class: tcptable.ClassListeners, LocalPort: uint16(ln.Addr().(*net.TCPAddr).Port)})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.NotEmpty(t, rows[0].Module.Name)
	return rows[0].Module.Name
}

// documentedQueries returns the PromQL expressions of docs/metrics.md's
// promql blocks: each starts on an unindented line that is not a comment,
// and indented lines continue it.
func documentedQueries(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "metrics.md"))
	require.NoError(t, err)
	var qs []string
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "```promql"):
			in = true
		case strings.HasPrefix(line, "```"):
			in = false
		case !in || strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, " ") && len(qs) > 0:
			qs[len(qs)-1] += "\n" + line
		default:
			qs = append(qs, line)
		}
	}
	require.GreaterOrEqual(t, len(qs), 10, "docs/metrics.md's queries")
	return qs
}
