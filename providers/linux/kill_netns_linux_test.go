package linux_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// TestKillOtherNetNS: a WithAllNetNS provider ends rows of a namespace
// this test makes (an IPv4 client end, an IPv6 server end and an IPv4
// listener that a child process holds there): Kill succeeds, the holder
// sees each end, ss in the namespace no longer lists them, and a listener
// of this process on the same address in the caller's namespace lives on.
// A provider of one namespace given a row of another ends nothing and
// says the row belongs to another namespace (ErrNotFound); a row of a
// namespace that does not exist is ErrNotFound; and nobody, who may not
// enter the namespace, gets ErrPermission and ends nothing.
func TestKillOtherNetNS(t *testing.T) {
	f := newKillFixture(t, "allns", netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp6"}, Listeners: []string{"tcp4"}})
	ctx := context.Background()
	ino, self := nsInode(t, f.ns.Path), nsInode(t, "/proc/self/ns/net")
	lst := f.held("listener")[0]
	twin, err := net.Listen("tcp4", lst.Local.String()) // the same address, in the caller's namespace
	require.NoError(t, err)
	defer twin.Close()

	all := newOrSkip(t, linux.WithAllNetNS())
	defer all.Close()
	rowIn := func(ns uint64, local, remote netip.AddrPort) (tcptable.Connection, bool) {
		t.Helper()
		rows, err := all.Table(ctx, tcptable.Query{LocalPort: local.Port()})
		require.NoError(t, err)
		for _, c := range rows {
			if c.NetNS == ns && c.Local == local && c.Remote == remote {
				return c, true
			}
		}
		return tcptable.Connection{}, false
	}
	twinRow, ok := rowIn(self, lst.Local, netip.AddrPortFrom(netip.IPv4Unspecified(), 0))
	require.True(t, ok, "this process's listener in the caller's namespace")

	t.Run("OneNamespaceProviders", func(t *testing.T) {
		err := f.p.Kill(ctx, twinRow) // WithNetNS(the test's namespace), a row of the caller's
		require.ErrorIs(t, err, tcptable.ErrNotFound)
		assert.ErrorContains(t, err, "the row belongs to another network namespace")
		own := newOrSkip(t)
		defer own.Close()
		inNS := f.row(t, lst)
		err = own.Kill(ctx, inNS) // the caller's namespace, a row of the test's
		require.ErrorIs(t, err, tcptable.ErrNotFound)
		assert.ErrorContains(t, err, "the row belongs to another network namespace")
		_, ok := rowIn(ino, lst.Local, lst.Remote)
		assert.True(t, ok, "nothing was ended")
		f.requireNoEnd(t, lst.Local)
	})

	t.Run("Unprivileged", func(t *testing.T) {
		cmd := netnstest.NewNobodyExe(t).Command(nil)
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d %s", envKillNS, ino, lst.Local))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		require.NoError(t, err)
		assert.True(t, strings.HasPrefix(string(out), "true "), "not a permission error: %s", out)
		assert.Contains(t, string(out), "CAP_SYS_ADMIN")
		_, ok := rowIn(ino, lst.Local, lst.Remote)
		assert.True(t, ok, "nothing was ended")
		f.requireNoEnd(t, lst.Local)
	})

	t.Run("NoSuchNamespace", func(t *testing.T) {
		ghost := twinRow
		ghost.NetNS = 1
		err := all.Kill(ctx, ghost)
		require.ErrorIs(t, err, tcptable.ErrNotFound)
		assert.ErrorContains(t, err, "no network namespace 1")
	})

	clients, servers := f.held("client"), f.held("server")
	for _, tc := range []struct {
		name   string
		victim netnstest.Held
		want   string
	}{
		{"tcp4/client", clients[0], "ECONNABORTED"},
		{"tcp6/server", servers[1], "ECONNABORTED"},
		{"tcp4/listener", lst, "EINVAL"}, // accept(2) on a socket that no longer listens
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := rowIn(ino, tc.victim.Local, tc.victim.Remote)
			require.True(t, ok, "%v -> %v in namespace %d", tc.victim.Local, tc.victim.Remote, ino)
			require.NoError(t, all.Kill(ctx, c))
			f.requireEnd(t, tc.victim.Local, tc.want)
			_, ok = rowIn(ino, tc.victim.Local, tc.victim.Remote)
			assert.False(t, ok, "%v still listed after Kill", c)
			assert.False(t, tc.victim.Remote.Port() != 0 && f.ssHas(t, tc.victim.Local, tc.victim.Remote), "ss still lists %v", c)
		})
	}

	// The twin in the caller's namespace, same address, lives on.
	_, ok = rowIn(self, twinRow.Local, twinRow.Remote)
	assert.True(t, ok, "the caller's listener on %v is still listed", twinRow.Local)
	conn, err := net.Dial("tcp4", twin.Addr().String())
	require.NoError(t, err, "the caller's listener still accepts")
	conn.Close()
}

// envKillNS makes the test binary kill, with a WithAllNetNS provider, the
// listener "INODE ADDR:PORT" of namespace INODE and print whether the
// error is a permission error, and the error: TestKillOtherNetNS runs it
// as nobody.
const envKillNS = "TCPTABLE_LINUX_TEST_KILL_NS"

// killNSMain is the child of envKillNS.
func killNSMain(row string) int {
	var ino uint64
	var local string
	if _, err := fmt.Sscan(row, &ino, &local); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := linux.New(linux.WithAllNetNS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer p.Close()
	c := tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort(local),
		Remote: netip.AddrPortFrom(netip.IPv4Unspecified(), 0), NetNS: ino}
	err = p.Kill(context.Background(), c)
	fmt.Printf("%v %v\n", errors.Is(err, tcptable.ErrPermission), err)
	return 0
}
