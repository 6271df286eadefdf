package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// TestKillAllNetNSRealOS runs "tcptable kill --all-netns" and "kill
// --netns NAME" in this process, over the Linux provider, against a
// namespace this test makes, where a holder child holds an IPv4 and an
// IPv6 pair and an IPv4 listener and reads from each. This process holds,
// in its own namespace, a listener on the very address of the holder's and
// a connection to it. Each kill ends what it selected inside the namespace
// (the holder sees the end), prints the rows with the namespace's name,
// and leaves the host's twin listener and connection working.
func TestKillAllNetNSRealOS(t *testing.T) {
	f := newKillNS(t, "tcptable-cli-killall")
	ns, h, ino := f.ns, f.h, f.inode
	v4, v6, ln := f.v4, f.v6, f.ln

	// The host's twin of the holder's listener, and a connection to it.
	twin, err := net.Listen("tcp4", ln.Local.String())
	require.NoError(t, err, "the holder's listener address is free in the caller's namespace")
	defer twin.Close()
	hostCl, err := net.Dial("tcp4", twin.Addr().String())
	require.NoError(t, err)
	defer hostCl.Close()
	hostSv, err := twin.Accept()
	require.NoError(t, err)
	defer hostSv.Close()

	run := func(args string) (int, string, string) {
		t.Helper()
		a, stdout, stderr := testApp(nil)
		a.newNSProvider = newNSProvider
		return a.run(context.Background(), strings.Fields(args)), stdout.String(), stderr.String()
	}
	hostWorks := func(t *testing.T) {
		t.Helper()
		require.NoError(t, hostSv.SetDeadline(time.Now().Add(10*time.Second)))
		_, err := hostCl.Write([]byte("x"))
		require.NoError(t, err, "the host's connection to %v was not ended", twin.Addr())
		_, err = io.ReadFull(hostSv, make([]byte, 1))
		require.NoError(t, err, "the host's connection to %v still carries data", twin.Addr())
		c, err := net.Dial("tcp4", twin.Addr().String())
		require.NoError(t, err, "the host's listener on %v still accepts", twin.Addr())
		c.Close()
		s, err := twin.Accept()
		require.NoError(t, err)
		s.Close()
	}

	t.Run("AllNetNS/Pair", func(t *testing.T) {
		// --pid: other namespaces of this shared host (other tests') may
		// have rows on the same port; this test ends only its holder's.
		code, out, stderr := run(fmt.Sprintf("kill --all-netns --port %d --pid %d --json", v4.Local.Port(), h.PID))
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		var rows []tcptable.Connection
		require.NoError(t, json.Unmarshal([]byte(out), &rows), out)
		require.NotEmpty(t, rows)
		for _, c := range rows {
			assert.Equal(t, ino, c.NetNS, "%v", c)
			assert.Equal(t, ns.Name, c.NetNSName, "%v", c)
			assert.Equal(t, uint32(h.PID), c.PID, "%v", c)
		}
		for _, end := range []netip.AddrPort{v4.Local, v4.Remote} {
			got, err := h.WaitEnds(end, 1, 10*time.Second)
			require.NoError(t, err, "the holder's read of %v must fail, not hang", end)
			assert.Contains(t, []string{"ECONNABORTED", "ECONNRESET"}, got[0].Result, "%v", end)
		}
		hostWorks(t)
	})

	t.Run("AllNetNS/Listener", func(t *testing.T) {
		// The selection matches the holder's listener only: the host's twin,
		// on the same address, is this process's.
		code, out, stderr := run(fmt.Sprintf("kill --all-netns -l --port %d --pid %d", ln.Local.Port(), h.PID))
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		assert.Regexp(t, `^NETNS +STATE +LOCAL`, out)
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(ns.Name)+` +LISTEN +`+regexp.QuoteMeta(ln.Local.String())+` +0\.0\.0\.0:\* +`, out)
		assert.Equal(t, 2, strings.Count(out, "\n"), "a header and the one listener: %s", out)
		got, err := h.WaitEnds(ln.Local, 1, 10*time.Second)
		require.NoError(t, err)
		assert.Equal(t, "EINVAL", got[0].Result, "accept(2) on a socket that no longer listens")
		hostWorks(t)
	})

	t.Run("NetNS/Pair", func(t *testing.T) {
		code, out, stderr := run(fmt.Sprintf("kill --netns %s --port %d", ns.Name, v6.Local.Port()))
		require.Equal(t, exitOK, code, "stderr: %s", stderr)
		assert.Regexp(t, `^NETNS +STATE +LOCAL`, out)
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(ns.Name)+` +ESTABLISHED +\[::1\]:`, out)
		for _, end := range []netip.AddrPort{v6.Local, v6.Remote} {
			_, err := h.WaitEnds(end, 1, 10*time.Second)
			require.NoError(t, err, "the holder's read of %v must fail, not hang", end)
		}
		hostWorks(t)
	})

	// Nothing of the namespace's is left on those ports.
	code, _, stderr := run(fmt.Sprintf("kill --all-netns --port %d --pid %d", v4.Local.Port(), h.PID))
	assert.Equal(t, exitFail, code)
	assert.Equal(t, "tcptable: kill: no connection matched\n", stderr)
}
