package main

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
)

// listenIn opens a listener of this process inside ns.
func listenIn(t *testing.T, ns *netnstest.NS) net.Listener {
	t.Helper()
	var l net.Listener
	require.NoError(t, ns.Do(func() (err error) {
		l, err = net.Listen("tcp4", "127.0.0.1:0")
		return err
	}))
	t.Cleanup(func() { l.Close() })
	return l
}

// TestNetNSRealOS runs --all-netns and --netns over the Linux provider
// with a namespace this test makes, as root and (--all-netns) as nobody.
func TestNetNSRealOS(t *testing.T) {
	ns := netnstest.NewForTest(t, "tcptable-cli")
	l := listenIn(t, ns)
	addr := l.Addr().String()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path, &st))
	ino := st.Ino

	run := func(args ...string) ([]tcptable.Connection, string) {
		t.Helper()
		a, stdout, stderr := testApp(nil)
		a.newNSProvider = newNSProvider
		require.Equal(t, exitOK, a.run(context.Background(), args), stderr.String())
		var rows []tcptable.Connection
		require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows), stdout.String())
		return rows, stderr.String()
	}
	find := func(rows []tcptable.Connection) *tcptable.Connection {
		for i := range rows {
			if rows[i].Local.String() == addr && rows[i].NetNS == ino {
				return &rows[i]
			}
		}
		return nil
	}
	for _, args := range [][]string{
		{"--all-netns", "-l", "--json"},
		{"--netns", ns.Name, "-l", "--json"},
		{"--netns", ns.Path, "-l", "--json"},
	} {
		rows, _ := run(args...)
		c := find(rows)
		require.NotNil(t, c, "%v: the namespace's listener in %v", args, rows)
		assert.Equal(t, ns.Name, c.NetNSName, "%v", args)
		assert.Equal(t, uint32(os.Getpid()), c.PID, "%v", args)
		if args[0] == "--netns" {
			for _, r := range rows {
				assert.Equal(t, ino, r.NetNS, "%v: one namespace only: %v", args, r)
			}
		}
	}

	a, stdout, stderr := testApp(nil)
	a.newNSProvider = newNSProvider
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--all-netns", "-l"}), stderr.String())
	assert.Regexp(t, `(?m)^NETNS +STATE +LOCAL`, stdout.String())
	assert.Regexp(t, `(?m)^`+ns.Name+` +LISTEN +`+strings.ReplaceAll(addr, ".", `\.`)+` `, stdout.String())

	a, _, stderr = testApp(nil)
	a.newNSProvider = newNSProvider
	assert.Equal(t, exitFail, a.run(context.Background(), []string{"--netns", ns.Name + "-missing"}))
	assert.Equal(t, "tcptable: --netns "+ns.Name+"-missing: no such network namespace: /run/netns/"+ns.Name+"-missing does not exist (ip netns list shows the names)\n", stderr.String())

	t.Run("nobody", func(t *testing.T) {
		cmd := netnstest.NewNobodyExe(t).Command(nil, "-test.run=^TestChildRun$")
		cmd.Env = append(os.Environ(), childArgsEnv+"=--all-netns -l")
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		require.NoError(t, cmd.Run(), "as nobody, --all-netns still lists the own namespace; stderr: %s", errOut.String())
		assert.Regexp(t, `(?m)^NETNS +STATE`, out.String())
		assert.NotContains(t, out.String(), addr, "the other namespace's listener is not read")
		assert.Regexp(t, `(?m)^tcptable: read 1 of \d+ network namespaces; \d+ skipped: permission denied \(entering another namespace needs root or CAP_SYS_ADMIN`, errOut.String())
	})
}
