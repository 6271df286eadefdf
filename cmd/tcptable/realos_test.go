package main

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/nativetest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/native"
)

// TestRealOS runs the command against this host through native.New: a
// listener the test opens must appear in --json output with this process'
// PID.
func TestRealOS(t *testing.T) {
	nativetest.Skip(t, "the command is covered against the mock")
	checkOwnListener(t, native.New)
}

// checkOwnListener opens a listener on 127.0.0.1 and checks that
// "tcptable --json -l --port P" over newProvider reports it, owned by this
// process.
func checkOwnListener(t *testing.T, newProvider func() (tcptable.Provider, error)) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())

	a, stdout, stderr := testApp(nil)
	a.newProvider = newProvider
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--json", "-l", "--port", strconv.Itoa(int(addr.Port()))}), stderr.String())
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows), stdout.String())
	require.Len(t, rows, 1, stdout.String())
	row := rows[0]
	assert.Equal(t, "LISTEN", row["state"])
	assert.Equal(t, addr.String(), row["local"])
	assert.Equal(t, "0.0.0.0:0", row["remote"])
	for _, k := range []string{"pid", "process", "path", "created"} {
		assert.Contains(t, row, k)
	}
	// The caller's own sockets always have a visible owner on Linux; a
	// provider elsewhere may say it cannot tell (Wine reports no PIDs).
	if row["owner_status"] == "ok" || runtime.GOOS == "linux" {
		assert.Equal(t, "ok", row["owner_status"], stdout.String())
		assert.Equal(t, float64(os.Getpid()), row["pid"], stdout.String())
	} else {
		assert.Equal(t, float64(0), row["pid"], "no owner, no PID")
		t.Logf("the provider reports no owner here: owner_status %v", row["owner_status"])
	}
	if row["module_status"] == "ok" || runtime.GOOS == "linux" {
		assert.NotEmpty(t, row["process"], stdout.String())
	}
}

// childArgsEnv carries the command line for TestChildRun when the test
// binary re-runs itself.
const childArgsEnv = "TCPTABLE_TEST_CHILD_ARGS"

// TestChildRun is not a test of its own: when TestUnprivileged re-runs the
// test binary with childArgsEnv set, it runs the command with those
// arguments over native.New and exits with its status.
func TestChildRun(t *testing.T) {
	args, ok := os.LookupEnv(childArgsEnv)
	if !ok {
		t.Skip("runs only as TestUnprivileged's child")
	}
	a := &app{stdout: os.Stdout, stderr: os.Stderr, newProvider: native.New, newNSProvider: newNSProvider,
		lookup: fakeLookup, resolveTimeout: time.Second, now: time.Now, tz: time.UTC}
	os.Exit(a.run(context.Background(), strings.Fields(args)))
}

// TestUnprivileged runs the command as user nobody while this (root)
// process holds a listener: the command must still work, show the row with
// its owner hidden, and say so in one stderr line.
func TestUnprivileged(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("Linux only: uses setpriv to drop privileges")
	}
	testenv.MustBeRoot(t, "to drop privileges to nobody")
	setpriv := testenv.LookPath(t, "setpriv", "apt-get install util-linux")
	nativetest.Skip(t, "the command is covered against the mock")
	// nobody must be able to run a copy of this test binary.
	dir, err := os.MkdirTemp("", "tcptable-unpriv-")
	require.NoError(t, err)
	defer os.RemoveAll(dir)
	require.NoError(t, os.Chmod(dir, 0o755))
	exe := filepath.Join(dir, "cli.test")
	self, err := os.ReadFile(os.Args[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(exe, self, 0o755))

	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	asNobody := func(args string) (stdout, stderr string) {
		cmd := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", exe, "-test.run=^TestChildRun$")
		cmd.Env = append(os.Environ(), childArgsEnv+"="+args)
		cmd.Dir = dir
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		require.NoError(t, cmd.Run(), "stderr: %s", errOut.String())
		return out.String(), errOut.String()
	}
	stdout, stderr := asNobody("-l --port " + port)
	assert.Regexp(t, `(?m)^LISTEN +127\.0\.0\.1:`+port+` +0\.0\.0\.0:\* +- +\[permission-denied\]$`, stdout)
	assert.Equal(t, hiddenAs(1, 1, false), stderr, "the child runs as nobody")

	// Asking for this (root) process' sockets finds nothing nobody may
	// see, and says why instead of printing an empty table in silence.
	me := strconv.Itoa(os.Getpid())
	stdout, stderr = asNobody("-l --port " + port + " --pid " + me)
	assert.Equal(t, 1, strings.Count(stdout, "\n"), "the header alone: %s", stdout)
	assert.Equal(t, strings.TrimSuffix(hiddenAs(1, 1, false), "\n")+"; they may match --pid "+me+"\n", stderr)
}

// TestWatchTracedRealOS runs "tcptable --watch --ndjson" over the native
// provider where it has kernel events: stderr names them, and a pair that
// lives a few milliseconds is printed opened and closed.
func TestWatchTracedRealOS(t *testing.T) {
	_, traces := nativetest.New(t, "--watch is covered against the mock").(tcptable.Tracer)
	if !traces {
		t.Skipf("the native provider on %s has no kernel events; --watch with them is covered against the mock", runtime.GOOS)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, stdout, stderr := tracedApp(nil)
	a.newProvider, a.now = native.New, time.Now
	var client, server string
	go func() {
		defer cancel()
		stderr.waitFor(t, "Ctrl-C stops")
		if !strings.Contains(stderr.String(), "with kernel events") {
			return
		}
		pair, err := conformance.OSEnv().Dial("tcp4")
		if !assert.NoError(t, err) {
			return
		}
		client, server = pair.Client().String(), pair.Server().String()
		assert.NoError(t, pair.CloseActive())
		assert.NoError(t, pair.Close())
		stdout.waitFor(t, `"event":"closed","before":{"state":"`)
		for !closedIn(stdout.String(), server, client) && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	require.Equal(t, exitOK, a.run(ctx, []string{"--watch", "--ndjson", "-4"}), stderr.String())
	if strings.Contains(stderr.String(), "polling every") {
		testenv.SkipOrFail(t, "no kernel events here (hint: run as root on Linux 5.8+ with BTF): %s", stderr.String())
	}
	assert.Regexp(t, `^tcptable: watching \d+ endpoints with kernel events \(\w+\); Ctrl-C stops\n`, stderr.String())
	// The sock_diag source (Linux without BPF privileges) sees the pair's
	// ends but not its opening, which lived between two polls: it reports
	// both ends opened at their end, without owner (docs/linux.md).
	attributed := !strings.Contains(stderr.String(), "kernel events (sock_diag)")
	if !attributed && testenv.Required() {
		t.Errorf("the watch fell back to sock_diag (%s is set: the BPF source must run): %s", testenv.RequireEnv, stderr.String())
	}
	var opened []string
	for line := range strings.Lines(stdout.String()) {
		var e tcptable.Event
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		local, remote := e.After.Local.String(), e.After.Remote.String()
		if e.Kind == tcptable.EventOpened && (local == client && remote == server || local == server && remote == client) {
			opened = append(opened, local)
			if local == client && attributed {
				assert.Equal(t, uint32(os.Getpid()), e.After.PID, "connect runs in this process: %s", line)
			}
		}
	}
	assert.ElementsMatch(t, []string{client, server}, opened, stdout.String())
	assert.True(t, closedIn(stdout.String(), server, client), "the accepted end is printed closed:\n%s", stdout.String())
}

// closedIn reports whether ndjson holds a "closed" event for local ->
// remote.
func closedIn(ndjson, local, remote string) bool {
	for line := range strings.Lines(ndjson) {
		var e tcptable.Event
		if json.Unmarshal([]byte(line), &e) == nil && e.Kind == tcptable.EventClosed &&
			e.Before.Local.String() == local && e.Before.Remote.String() == remote {
			return true
		}
	}
	return false
}

// TestDualStackIPv4RealOS: on the real OS, "tcptable -4 --port P" lists a
// listener on [::]:P without IPV6_V6ONLY (it accepts IPv4) with
// dual_stack true, and nothing for a V6ONLY one, where the native
// provider reports IPV6_V6ONLY (Linux); elsewhere the OS does not say
// (docs/model.md) and -4 finds neither.
func TestDualStackIPv4RealOS(t *testing.T) {
	nativetest.Skip(t, "-4 is covered against the mock")
	env, ok := conformance.OSEnv().(conformance.DualStackEnv)
	if !ok {
		t.Skipf("OSEnv cannot open listeners on [::] on %s", runtime.GOOS)
	}
	reports := runtime.GOOS == "linux"
	for _, v6only := range []bool{false, true} {
		ln, err := env.ListenUnspecified(v6only)
		if err != nil {
			testenv.SkipOrFail(t, "cannot listen on [::] (IPv6 disabled?): %v", err)
		}
		defer ln.Close()
		port := strconv.Itoa(int(ln.Addr().Port()))
		a, stdout, stderr := testApp(nil)
		a.newProvider = native.New
		require.Equal(t, exitOK, a.run(context.Background(), []string{"-4", "--port", port, "--json"}), stderr.String())
		var rows []map[string]any
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows), stdout.String())
		if v6only || !reports {
			assert.Empty(t, rows, "-4 --port %s, IPV6_V6ONLY %v", port, v6only)
			continue
		}
		require.Len(t, rows, 1, stdout.String())
		assert.Equal(t, "[::]:"+port, rows[0]["local"])
		assert.Equal(t, true, rows[0]["dual_stack"])
	}
}
