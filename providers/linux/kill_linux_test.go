package linux_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// endWait bounds how long a holder may take to see its socket end: the
// kernel wakes it at once, so only a hang takes this long.
const endWait = 10 * time.Second

// killFixture is a namespace whose sockets a holder child holds and
// watches, and a provider of that namespace.
type killFixture struct {
	ns *netnstest.NS
	h  *netnstest.Holder
	p  *linux.Provider
}

// newKillFixture creates a namespace, starts a holder of spec in it and
// opens a provider on it, or skips (fails under requireEnv) where
// namespaces are not available.
func newKillFixture(t *testing.T, name string, spec netnstest.HolderSpec) *killFixture {
	t.Helper()
	ns := netnstest.NewForTest(t, "tcptable-kill-"+name)
	f := &killFixture{ns: ns}
	t.Cleanup(func() {
		if f.p != nil {
			f.p.Close()
		}
		if f.h != nil {
			f.h.Close()
		}
	})
	exe, err := os.Executable()
	require.NoError(t, err)
	f.h, err = netnstest.StartHolder(ns, exe, nil, spec, time.Minute)
	require.NoError(t, err)
	f.p, err = linux.New(linux.WithNetNS(ns.Path))
	require.NoError(t, err)
	return f
}

// rows returns the namespace's rows whose local address is local, with
// owners.
func (f *killFixture) rows(t *testing.T, local netip.AddrPort) []tcptable.Connection {
	t.Helper()
	rows, err := f.p.Table(context.Background(), tcptable.Query{LocalPort: local.Port()})
	require.NoError(t, err)
	var out []tcptable.Connection
	for _, c := range rows {
		if c.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// row returns the one row of held.
func (f *killFixture) row(t *testing.T, held netnstest.Held) tcptable.Connection {
	t.Helper()
	var found []tcptable.Connection
	for _, c := range f.rows(t, held.Local) {
		if c.Remote == held.Remote {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "rows of %v -> %v", held.Local, held.Remote)
	return found[0]
}

// sharedRow returns the one row of held once it lists exactly owners. The
// holder's second process holds close-on-exec copies of the holder's
// sockets (net.FileConn's), so until it is a second old the provider
// takes it for a child between fork and exec and leaves it out
// (docs/linux.md, "Processes between fork and exec").
func (f *killFixture) sharedRow(t *testing.T, held netnstest.Held, owners ...uint32) tcptable.Connection {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := f.row(t, held)
		if slices.Equal(slices.Sorted(slices.Values(c.Owners())), slices.Sorted(slices.Values(owners))) {
			return c
		}
		if time.Now().After(deadline) {
			require.ElementsMatch(t, owners, c.Owners(), "both processes hold %v", c)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ssHas reports whether ss, run in the namespace, lists a socket with this
// local and remote address.
func (f *killFixture) ssHas(t *testing.T, local, remote netip.AddrPort) bool {
	t.Helper()
	out, err := f.ns.Exec("ss", "-tanH").Output()
	require.NoError(t, err)
	rows, err := netnstest.ParseSS(out)
	require.NoError(t, err)
	for _, r := range rows {
		if r.Local == local && r.Remote == remote {
			return true
		}
	}
	return false
}

// held returns the endpoints of role among f's, in order.
func (f *killFixture) held(role string) []netnstest.Held {
	var out []netnstest.Held
	for _, h := range f.h.Held {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}

// requireKilled checks that Kill(c) succeeded and that the row is gone from
// the provider's table and from ss's.
func (f *killFixture) requireKilled(t *testing.T, c tcptable.Connection) {
	t.Helper()
	require.NoError(t, f.p.Kill(context.Background(), c))
	for _, r := range f.rows(t, c.Local) {
		assert.False(t, r.Key() == c.Key(), "row %v still listed after Kill", c)
	}
	assert.False(t, c.Remote.Port() != 0 && f.ssHas(t, c.Local, c.Remote), "ss still lists %v", c)
}

// requireEnd waits for the holders of local to see its end and checks
// what they saw.
func (f *killFixture) requireEnd(t *testing.T, local netip.AddrPort, want ...string) {
	t.Helper()
	ends, err := f.h.WaitEnds(local, len(want), endWait)
	require.NoError(t, err, "the process holding %v must see it end, not hang", local)
	var got []string
	for _, e := range ends {
		got = append(got, e.Result)
	}
	assert.ElementsMatch(t, want, got, "what the holders of %v saw", local)
}

// requireNoEnd checks that no holder of local has seen it end.
func (f *killFixture) requireNoEnd(t *testing.T, local netip.AddrPort) {
	t.Helper()
	for _, e := range f.h.Ends() {
		if e.Local == local {
			t.Errorf("process %d saw %v end (%s): it must live on", e.PID, local, e.Result)
		}
	}
}

// TestKillEstablished ends each end of an IPv4 and an IPv6 connection held
// by another process in a namespace: the row goes, the holder's blocked
// read fails with ECONNABORTED and the peer's with ECONNRESET.
func TestKillEstablished(t *testing.T) {
	f := newKillFixture(t, "est", netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp4", "tcp6", "tcp6"}})
	clients, servers := f.held("client"), f.held("server")
	require.Len(t, clients, 4)
	for i, name := range []string{"tcp4/client", "tcp4/server", "tcp6/client", "tcp6/server"} {
		t.Run(name, func(t *testing.T) {
			victim, peer := clients[i], servers[i]
			if strings.HasSuffix(name, "server") {
				victim, peer = servers[i], clients[i]
			}
			c := f.row(t, victim)
			require.Equal(t, tcptable.StateEstablished, c.State)
			require.Equal(t, uint32(f.h.PID), c.PID, "the holder owns it")
			f.requireKilled(t, c)
			f.requireEnd(t, victim.Local, "ECONNABORTED")
			f.requireEnd(t, peer.Local, "ECONNRESET")
		})
	}
}

// TestKillListener closes IPv4 and IPv6 listeners: the row goes and the
// holder's blocked accept fails. An MPTCP listener (Go's default) cannot
// be destroyed: the error says so and wraps ErrNotSupported, and the
// listener lives on.
func TestKillListener(t *testing.T) {
	t.Run("tcp", func(t *testing.T) {
		f := newKillFixture(t, "lst", netnstest.HolderSpec{Listeners: []string{"tcp4", "tcp6"}})
		for _, l := range f.held("listener") {
			c := f.row(t, l)
			require.Equal(t, tcptable.StateListen, c.State)
			require.NotZero(t, c.Socket)
			f.requireKilled(t, c)
			f.requireEnd(t, l.Local, "EINVAL") // accept(2) on a socket that no longer listens
		}
	})
	t.Run("mptcp", func(t *testing.T) {
		if b, err := os.ReadFile("/proc/sys/net/mptcp/enabled"); err != nil || strings.TrimSpace(string(b)) != "1" {
			testenv.SkipOrFail(t, "this kernel has no MPTCP (CONFIG_MPTCP, net.mptcp.enabled=1): %v", err)
		}
		f := newKillFixture(t, "mptcp", netnstest.HolderSpec{Listeners: []string{"tcp4"}, MPTCP: true})
		l := f.held("listener")[0]
		c := f.row(t, l)
		err := f.p.Kill(context.Background(), c)
		if err == nil {
			// MPTCP is there, and this kernel destroys an MPTCP
			// listener's subflow after all: the refusal checked here
			// does not apply to it (nothing is missing), a plain skip.
			t.Skip("this kernel destroys MPTCP listeners: nothing to refuse")
		}
		require.ErrorIs(t, err, tcptable.ErrNotSupported)
		assert.Contains(t, err.Error(), "MPTCP listener")
		assert.Len(t, f.rows(t, l.Local), 1, "the listener lives on")
		f.requireNoEnd(t, l.Local)
	})
}

// TestKillReusePort ends two listeners of an SO_REUSEPORT group, each
// found by its inode among those on one address; the others live on. A
// listener bound to an explicit port stays bound once it no longer
// listens, until its holder closes it: its row turns CLOSED.
func TestKillReusePort(t *testing.T) {
	f := newKillFixture(t, "reuse", netnstest.HolderSpec{Listeners: []string{"tcp4"}, ReusePort: 4})
	local := f.held("listener")[0].Local
	group := f.rows(t, local)
	require.Len(t, group, 4)
	for _, victim := range []int{2, 0} {
		c := group[victim]
		require.NoError(t, f.p.Kill(context.Background(), c))
		var left []uint64
		for _, r := range f.rows(t, local) {
			if r.State == tcptable.StateListen {
				left = append(left, r.Socket)
			} else {
				assert.Equal(t, tcptable.StateClosed, r.State, "a killed listener stays bound, no longer listening")
			}
		}
		assert.NotContains(t, left, c.Socket, "the killed listener no longer listens")
		group = append(group[:victim:victim], group[victim+1:]...)
		for _, r := range group {
			assert.Contains(t, left, r.Socket, "the other listeners live on")
		}
	}
	ends, err := f.h.WaitEnds(local, 2, endWait)
	require.NoError(t, err)
	assert.Len(t, ends, 2, "exactly the two killed listeners' accepts ended")
}

// TestKillShared ends a connection two processes hold: both see it end
// (one read gets the error, the other end of file), neither hangs.
func TestKillShared(t *testing.T) {
	f := newKillFixture(t, "shared", netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp6"}, SharePairs: true})
	for i, cl := range f.held("client") {
		c := f.sharedRow(t, cl, uint32(f.h.PID), uint32(f.h.SharePID))
		f.requireKilled(t, c)
		ends, err := f.h.WaitEnds(cl.Local, 2, endWait)
		require.NoError(t, err, "both holders must see the end")
		pids := map[int]string{}
		for _, e := range ends {
			pids[e.PID] = e.Result
		}
		require.Len(t, pids, 2, "%v", ends)
		results := []string{pids[f.h.PID], pids[f.h.SharePID]}
		assert.Contains(t, results, "ECONNABORTED", "one reader gets the error")
		for _, r := range results {
			assert.Contains(t, []string{"ECONNABORTED", "EOF"}, r)
		}
		f.requireEnd(t, f.held("server")[i].Local, "ECONNRESET")
	}
}

// TestKillTimeWait removes a TIME-WAIT row: SOCK_DESTROY deschedules the
// kernel's timewait socket (Linux 6.18; older kernels answer EOPNOTSUPP,
// which Kill reports wrapping ErrNotSupported).
func TestKillTimeWait(t *testing.T) {
	f := newKillFixture(t, "tw", netnstest.HolderSpec{})
	exe, err := os.Executable()
	require.NoError(t, err)
	child, err := netnstest.Start(f.ns, exe, netnstest.Spec{TimeWait: 3}, false, time.Minute)
	require.NoError(t, err)
	defer child.Close()
	rows, err := f.p.Table(context.Background(), tcptable.Query{States: []tcptable.State{tcptable.StateTimeWait}})
	require.NoError(t, err)
	require.Len(t, rows, 3)
	for _, c := range rows {
		require.Zero(t, c.Socket)
		f.requireKilled(t, c)
	}
}

// TestKillNotFound: rows the kernel does not have are ErrNotFound and end
// nothing, including a connection that is gone while a listener holds
// its local port (the kernel's lookup by address alone returns that
// listener), a row naming another socket's inode, a TIME-WAIT row whose
// four-tuple a live connection has, and a row of another namespace.
func TestKillNotFound(t *testing.T) {
	f := newKillFixture(t, "nf", netnstest.HolderSpec{Pairs: []string{"tcp4"}, Listeners: []string{"tcp4", "tcp6"}})
	ctx := context.Background()
	client := f.row(t, f.held("client")[0])
	ln4 := f.row(t, f.held("listener")[0])
	ln6 := f.row(t, f.held("listener")[1])
	notFound := map[string]tcptable.Connection{}
	for _, ln := range []tcptable.Connection{ln4, ln6} {
		gone := ln
		gone.State, gone.Socket = tcptable.StateEstablished, 0
		gone.Remote = netip.AddrPortFrom(ln.Local.Addr(), 51111)
		notFound["gone connection on "+ln.Local.String()] = gone
	}
	other := client
	other.Socket += 12345
	notFound["another inode"] = other
	tw := client
	tw.State, tw.Socket = tcptable.StateTimeWait, 0
	notFound["TIME-WAIT row of a live four-tuple"] = tw
	ghost := ln4
	ghost.Socket += 12345
	notFound["listener of another inode"] = ghost
	elsewhere := client
	elsewhere.NetNS = 1
	notFound["another namespace"] = elsewhere
	notFound["no socket at all"] = tcptable.Connection{State: tcptable.StateEstablished,
		Local: netip.MustParseAddrPort("127.0.0.1:40001"), Remote: netip.MustParseAddrPort("127.0.0.1:40002")}
	for name, c := range notFound {
		err := f.p.Kill(ctx, c)
		assert.ErrorIs(t, err, tcptable.ErrNotFound, name)
	}
	for _, c := range []tcptable.Connection{client, ln4, ln6} {
		assert.Len(t, f.rows(t, c.Local), 1, "%v must live on", c)
		f.requireNoEnd(t, c.Local)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, f.p.Kill(cancelled, client), context.Canceled)
	assert.ErrorIs(t, f.p.Kill(ctx, tcptable.Connection{}), tcptable.ErrInvalid)
	require.NoError(t, f.p.Close())
	assert.ErrorIs(t, f.p.Kill(ctx, client), tcptable.ErrClosed)
	f.requireNoEnd(t, client.Local)
}

// envKill makes the test binary kill every row on a port of its own
// namespace and print each error: TestKillUnprivileged runs it as nobody.
const envKill = "TCPTABLE_LINUX_TEST_KILL"

// killMain is the child of envKill.
func killMain(port string) int {
	p, err := linux.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer p.Close()
	var q tcptable.Query
	if _, err := fmt.Sscan(port, &q.Port); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rows, err := p.Table(context.Background(), q)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, c := range rows {
		err := p.Kill(context.Background(), c)
		fmt.Printf("%v %v\n", errors.Is(err, tcptable.ErrPermission), err)
	}
	return 0
}

// TestKillUnprivileged: a caller without CAP_NET_ADMIN gets an error that
// wraps ErrPermission and names the capability, for every row, and ends
// nothing.
func TestKillUnprivileged(t *testing.T) {
	nobody := netnstest.NewNobodyExe(t)
	f := newKillFixture(t, "unpriv", netnstest.HolderSpec{Pairs: []string{"tcp4", "tcp6"}, Listeners: []string{"tcp4"}})
	for _, h := range f.h.Held {
		if h.Role == "server" {
			continue // the client's port selects both ends
		}
		cmd := nobody.Command(f.ns)
		cmd.Env = append(os.Environ(), envKill+"="+fmt.Sprint(h.Local.Port()))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		want := 2 // a pair's two ends
		if h.Role == "listener" {
			want = 1
		}
		require.Len(t, lines, want, "%s", out)
		for _, l := range lines {
			assert.True(t, strings.HasPrefix(l, "true "), "not a permission error: %s", l)
			assert.Contains(t, l, "CAP_NET_ADMIN")
		}
	}
	for _, h := range f.h.Held {
		assert.Len(t, f.rows(t, h.Local), 1, "%v must live on", h.Local)
	}
	time.Sleep(100 * time.Millisecond) // an end, if any, would be reported by now
	for _, h := range f.h.Held {
		f.requireNoEnd(t, h.Local)
	}
}
