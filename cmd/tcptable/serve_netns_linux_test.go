package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
)

// TestServeAllNetNSRealOS serves every namespace of the host over the
// Linux provider, with two namespaces this test makes, each holding a
// listener of this process: each namespace has its series, under its name.
// As nobody, serve reads its own namespace only and says, in a series and
// on stderr, that it skipped the others for want of permission.
func TestServeAllNetNSRealOS(t *testing.T) {
	var nss []*netnstest.NS
	var inodes []string
	for _, suffix := range []string{"a", "b"} {
		ns := netnstest.NewForTest(t, "tcptable-serve-"+suffix)
		listenIn(t, ns)
		var st unix.Stat_t
		require.NoError(t, unix.Stat(ns.Path, &st))
		nss, inodes = append(nss, ns), append(inodes, strconv.FormatUint(st.Ino, 10))
	}
	a, _, _ := testApp(nil)
	a.newNSProvider = newNSProvider
	s := startServeApp(t, a, "--all-netns", "--top-netns", "1000")
	_, body := get(t, s.url+"/metrics")
	for i, ns := range nss {
		line := `tcptable_netns_connections{netns="` + inodes[i] + `",netns_name="` + ns.Name + `",state="listen"} 1`
		assert.Contains(t, body, "\n"+line+"\n")
		assert.Equal(t, 1, strings.Count(body, `netns="`+inodes[i]+`"`), "only the listener in %s", ns.Name)
	}
	assert.Contains(t, body, "\ntcptable_netns_skipped{reason=\"permission_denied\"} 0\n")
	assert.Contains(t, body, "\ntcptable_trace_up 0\n", "the trace follows one namespace")
	assert.NotContains(t, body, "tcptable_trace_source_info")
	assert.Eventually(t, func() bool {
		return strings.Contains(s.stderr.String(), "tracing not available; per-process opened and closed counters stay empty") &&
			strings.Contains(s.stderr.String(), "WithAllNetNS: kernel events follow one network namespace")
	}, 30*time.Second, 10*time.Millisecond, "serve must say why it does not trace: %s", s.stderr)
	assert.NotContains(t, s.stderr.String(), "skipped")

	t.Run("prometheus", func(t *testing.T) {
		prom := startPrometheus(t, prometheusBinary(t), strings.TrimPrefix(s.url, "http://"))
		want := map[string]float64{}
		for i, ns := range nss {
			want[`netns="`+inodes[i]+`",netns_name="`+ns.Name+`",state="listen"`] = 1
		}
		prom.eventually(t, fmt.Sprintf(`tcptable_netns_connections{netns_name=~"tcptable-serve-[ab]-%d"}`, os.Getpid()), want)
		prom.eventually(t, `tcptable_netns_skipped{reason="permission_denied"}`, map[string]float64{`reason="permission_denied"`: 0})
		got := prom.query(t, `count(tcptable_netns_connections{netns!="other"}) by (netns)`)
		assert.GreaterOrEqual(t, len(got), 3, "the host's namespace and the test's two: %v", got)
	})

	t.Run("nobody", func(t *testing.T) {
		url, next := serveAsNobody(t, "--all-netns")
		_, body := get(t, url+"/metrics")
		m := regexp.MustCompile(`\ntcptable_netns_skipped\{reason="permission_denied"\} (\d+)\n`).FindStringSubmatch(body)
		require.NotNil(t, m, body)
		n, _ := strconv.Atoi(m[1])
		assert.GreaterOrEqual(t, n, len(nss), "at least the test's namespaces are skipped")
		for _, ino := range inodes {
			assert.NotContains(t, body, `netns="`+ino+`"`)
		}
		want := regexp.MustCompile(`^tcptable: serve: read 1 of \d+ network namespaces; \d+ skipped: permission denied \(entering another namespace needs root`)
		for !want.MatchString(next()) {
		}
		_, body = get(t, url+"/metrics")
		assert.Contains(t, body, "\ntcptable_netns_skipped{reason=\"permission_denied\"} ")
	})
}

// serveAsNobody runs `tcptable serve --listen 127.0.0.1:0 args` as user
// nobody in a copy of this test binary, and returns its URL and a function
// that returns its next stderr line (failing the test when it ends or says
// nothing for 30 s). The test's cleanup kills it.
func serveAsNobody(t *testing.T, args string) (url string, next func() string) {
	t.Helper()
	testenv.MustBeRoot(t, "to drop privileges to nobody")
	cmd := netnstest.NewNobodyExe(t).Command(nil, "-test.run=^TestChildRun$")
	cmd.Env = append(os.Environ(), childArgsEnv+"=serve --listen 127.0.0.1:0 "+args)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		for sc := bufio.NewScanner(stderr); sc.Scan(); {
			lines <- sc.Text()
		}
	}()
	var seen []string
	next = func() string {
		t.Helper()
		select {
		case l, ok := <-lines:
			require.True(t, ok, "serve as nobody ended: %q", seen)
			seen = append(seen, l)
			return l
		case <-time.After(30 * time.Second):
			t.Fatalf("serve as nobody said nothing more: %q", seen)
		}
		return ""
	}
	for url == "" {
		if m := servingLine.FindStringSubmatch(next()); m != nil {
			url = m[1]
		}
	}
	return url, next
}

// TestServeTraceUnprivileged: serve as nobody may not load BPF programs.
// Either its trace runs from another source, which
// tcptable_trace_source_info names (on Linux 6.x: sock_diag's destroy
// groups), or it does not run: then tcptable_trace_up is 0, no opened or
// closed counters are exported, and stderr says why.
func TestServeTraceUnprivileged(t *testing.T) {
	url, next := serveAsNobody(t, "")
	var body string
	sourceLine := regexp.MustCompile(`\ntcptable_trace_source_info\{source="([^"]*)"\} 1\n`)
	require.Eventually(t, func() bool {
		_, body = get(t, url+"/metrics")
		return sourceLine.MatchString(body) || strings.Contains(body, "\ntcptable_trace_errors_total 1\n")
	}, 30*time.Second, 100*time.Millisecond, "the trace neither started nor failed")
	if m := sourceLine.FindStringSubmatch(body); m != nil {
		assert.Contains(t, body, "\ntcptable_trace_up 1\n")
		assert.NotEqual(t, "bpf", m[1], "nobody may not load BPF programs")
		return
	}
	want := regexp.MustCompile(`tracing not available; per-process opened and closed counters stay empty.* err=".*not supported`)
	for !want.MatchString(next()) {
	}
	assert.Contains(t, body, "\ntcptable_trace_up 0\n")
	assert.NotContains(t, body, "tcptable_process_connections_opened_total{")
}
