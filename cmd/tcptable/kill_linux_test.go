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

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
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

// TestKillNetNS runs "tcptable kill" end to end against the real kernel,
// in a namespace where another process holds IPv4 and IPv6 connections
// and a listener and reads from each: the holder's blocked reads fail
// (ECONNABORTED for the end killed, ECONNRESET for its peer, unless that
// was killed first), a dry run ends nothing, and a second run finds
// nothing to end.
func TestKillNetNS(t *testing.T) {
	if err := netnstest.Available(); err != nil {
		testenv.SkipOrFail(t, "%v", err)
	}
	ns, err := netnstest.NewNS(fmt.Sprintf("tcptable-cli-kill-%d", os.Getpid()))
	if err != nil {
		testenv.SkipOrFail(t, "cannot create a network namespace here: %v", err)
	}
	defer func() { assert.NoError(t, ns.Close()) }()
	exe, err := os.Executable()
	require.NoError(t, err)
	h, err := netnstest.StartHolder(ns, exe, []string{"-test.run=^TestHolderChild$"},
		netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp6"}, Listeners: []string{"tcp4"}}, time.Minute)
	require.NoError(t, err)
	defer h.Close()
	held := map[string][]netnstest.Held{}
	for _, e := range h.Held {
		held[e.Role] = append(held[e.Role], e)
	}
	v4, v6, ln := held["client"][0], held["client"][1], held["listener"][0]

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
