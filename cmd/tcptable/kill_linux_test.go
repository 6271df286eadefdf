package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
)

// TestHolderChild is not a test of its own: TestKillNetNS starts the test
// binary as a netnstest holder through it.
func TestHolderChild(t *testing.T) {
	netnstest.RunChildIfRequested()
	t.Skip("runs only as TestKillNetNS's socket holder")
}

// cliInNS runs "tcptable args" inside ns (the test binary as TestChildRun,
// over native.New, which reads the namespace it runs in) and returns its
// exit code, stdout and stderr.
func cliInNS(t *testing.T, ns *netnstest.NS, exe, args string) (int, string, string) {
	t.Helper()
	cmd := ns.Exec(exe, "-test.run=^TestChildRun$")
	cmd.Env = append(os.Environ(), childArgsEnv+"="+args)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode(), stdout.String(), stderr.String()
	}
	require.NoError(t, err)
	return 0, stdout.String(), stderr.String()
}

// killNS is a namespace this test made, where a holder child (the test
// binary as TestHolderChild) holds an IPv4 and an IPv6 pair and an IPv4
// listener, and reads from each.
type killNS struct {
	ns     *netnstest.NS
	exe    string // the test binary
	h      *netnstest.Holder
	v4, v6 netnstest.Held // the client ends of the pairs
	ln     netnstest.Held // the listener
	inode  uint64         // the namespace's
}

// newKillNS makes a killNS named prefix-PID, which the test's cleanup
// removes, or skips the test (fails it when privileges are required) where
// namespaces cannot be made.
func newKillNS(t *testing.T, prefix string) *killNS {
	t.Helper()
	ns := netnstest.NewForTest(t, prefix)
	exe, err := os.Executable()
	require.NoError(t, err)
	h, err := netnstest.StartHolder(ns, exe, []string{"-test.run=^TestHolderChild$"},
		netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp6"}, Listeners: []string{"tcp4"}}, time.Minute)
	require.NoError(t, err)
	t.Cleanup(func() { h.Close() })
	held := map[string][]netnstest.Held{}
	for _, e := range h.Held {
		held[e.Role] = append(held[e.Role], e)
	}
	var st unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path, &st))
	return &killNS{ns: ns, exe: exe, h: h, v4: held["client"][0], v6: held["client"][1], ln: held["listener"][0], inode: st.Ino}
}

// TestKillNetNS runs "tcptable kill" end to end against the real kernel,
// in a namespace where another process holds IPv4 and IPv6 connections
// and a listener and reads from each: the holder's blocked reads fail
// (ECONNABORTED for the end killed, ECONNRESET for its peer, unless that
// was killed first), a dry run ends nothing, and a second run finds
// nothing to end.
func TestKillNetNS(t *testing.T) {
	f := newKillNS(t, "tcptable-cli-kill")
	ns, exe, h := f.ns, f.exe, f.h
	v4, v6, ln := f.v4, f.v6, f.ln

	// A dry run prints both ends of the IPv6 pair and ends nothing.
	code, out, stderr := cliInNS(t, ns, exe, fmt.Sprintf("kill --port %d --dry-run --json", v6.Local.Port()))
	require.Equal(t, exitOK, code, stderr)
	var rows []tcptable.Connection
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	require.Len(t, rows, 2)
	for _, c := range rows {
		assert.Equal(t, uint32(h.PID), c.PID)
	}

	// The IPv4 pair: both ends match the client's port.
	code, out, stderr = cliInNS(t, ns, exe, fmt.Sprintf("kill --port %d --json", v4.Local.Port()))
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	rows = nil
	require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
	require.NotEmpty(t, rows)
	ends := map[netip.AddrPort]string{}
	for _, end := range []netip.AddrPort{v4.Local, v4.Remote} {
		got, err := h.WaitEnds(end, 1, 10*time.Second)
		require.NoError(t, err, "the holder's read of %v must fail, not hang", end)
		ends[end] = got[0].Result
	}
	first := rows[0].Local // killed first: its holder sees the abort
	assert.Equal(t, "ECONNABORTED", ends[first], "%v", ends)
	for end, r := range ends {
		assert.Contains(t, []string{"ECONNABORTED", "ECONNRESET"}, r, "%v", end)
	}
	if len(rows) == 1 {
		assert.Contains(t, stderr, ": already gone\n", "the peer reset by the first kill")
	}

	// The listener.
	code, out, stderr = cliInNS(t, ns, exe, fmt.Sprintf("kill -l --port %d", ln.Local.Port()))
	require.Equal(t, exitOK, code, "stderr: %s", stderr)
	assert.Regexp(t, `(?m)^LISTEN +`+strings.ReplaceAll(ln.Local.String(), ".", `\.`)+` +0\.0\.0\.0:\* +\d+ +`, out)
	got, err := h.WaitEnds(ln.Local, 1, 10*time.Second)
	require.NoError(t, err)
	assert.Equal(t, "EINVAL", got[0].Result, "accept(2) on a socket that no longer listens")

	// Nothing left to end on the IPv4 port; the IPv6 pair was never touched.
	code, _, stderr = cliInNS(t, ns, exe, fmt.Sprintf("kill --port %d", v4.Local.Port()))
	assert.Equal(t, exitFail, code)
	assert.Equal(t, "tcptable: kill: no connection matched\n", stderr)
	for _, e := range h.Ends() {
		assert.NotContains(t, []netip.AddrPort{v6.Local, v6.Remote}, e.Local, "the dry run ended %v", e)
	}
}
