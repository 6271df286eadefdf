package linux_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/linux"
)

// newTestNS creates a uniquely named namespace, deleted when the test ends
// (after the cleanups registered later, such as the children's).
func newTestNS(t *testing.T, suffix string) *netnstest.NS {
	t.Helper()
	return netnstest.NewForTest(t, "tcptable-all-"+suffix)
}

// startChild starts a socket-holding child in ns, stopped when the test ends.
func startChild(t *testing.T, ns *netnstest.NS, exe string, spec netnstest.Spec) *netnstest.Child {
	t.Helper()
	c, err := netnstest.Start(ns, exe, spec, false, time.Minute)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// nsInode returns the inode of a namespace file.
func nsInode(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return st.Ino
}

// The fixed four-tuple made in two namespaces: ports with two different
// bytes.
var (
	sameListen = netip.MustParseAddrPort("127.0.0.1:4660")
	sameClient = netip.MustParseAddrPort("127.0.0.1:4951")
)

// samePair listens on sameListen inside the namespace and connects
// to it from sameClient, all held by this process until the test ends.
func samePair(t *testing.T, ns *netnstest.NS) (close func()) {
	t.Helper()
	var l net.Listener
	var cl, sv net.Conn
	require.NoError(t, ns.Do(func() (err error) {
		if l, err = net.Listen("tcp4", sameListen.String()); err != nil {
			return err
		}
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(sameClient)}
		if cl, err = d.Dial("tcp4", sameListen.String()); err != nil {
			return err
		}
		sv, err = l.Accept()
		return err
	}))
	closed := false
	close = func() {
		if !closed {
			closed = true
			cl.Close()
			sv.Close()
			l.Close()
		}
	}
	t.Cleanup(close)
	return close
}

// byNetNS returns the rows of namespace ino.
func byNetNS(rows []tcptable.Connection, ino uint64) []tcptable.Connection {
	var out []tcptable.Connection
	for _, c := range rows {
		if c.NetNS == ino {
			out = append(out, c)
		}
	}
	return out
}

// TestAllNetNS reads two namespaces holding the same four-tuple and child
// processes with sockets in every state, with each owner scan and source,
// and checks every namespace's rows and owners against ss -tanp run in it.
func TestAllNetNS(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	a, b := newTestNS(t, "a"), newTestNS(t, "b")
	startChild(t, a, exe, netnstest.Spec{Listeners: 3, Established: 20, HalfClosed: 3, TimeWait: 3, Share: true})
	startChild(t, b, exe, netnstest.Spec{Listeners: 2, Established: 10, HalfClosed: 2, TimeWait: 2})
	closeA := samePair(t, a)
	samePair(t, b)
	inoA, inoB := nsInode(t, a.Path), nsInode(t, b.Path)
	require.NotEqual(t, inoA, inoB)

	for _, tc := range []struct {
		name   string
		scan   linux.OwnerScan
		source linux.Source
	}{
		{"bpf", linux.OwnerScanBPF, linux.SourceNetlink},
		{"procfs", linux.OwnerScanProcfs, linux.SourceNetlink},
		{"procnet", linux.OwnerScanProcfs, linux.SourceProcNet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newScanOrSkip(t, tc.scan, linux.WithAllNetNS(), linux.WithSource(tc.source))
			require.Equal(t, tc.source, p.Source())
			var rows []tcptable.Connection
			var diff string
			for range 5 { // a pair may still be settling right after READY
				wantA := ssOwners((&nsFixture{ns: a}).ssTable(t))
				wantB := ssOwners((&nsFixture{ns: b}).ssTable(t))
				rows, err = p.Table(context.Background(), tcptable.Query{})
				require.NoError(t, err)
				diff = diffOwners(wantA, providerOwners(byNetNS(rows, inoA))) +
					diffOwners(wantB, providerOwners(byNetNS(rows, inoB)))
				if diff == "" {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			require.Empty(t, diff, "each namespace's rows and owners must equal ss -tanp's in it")
			checkAllNetNSRows(t, rows, map[uint64]string{inoA: a.Name, inoB: b.Name})

			spaces := p.NetNamespaces()
			for ino, name := range map[uint64]string{inoA: a.Name, inoB: b.Name, nsInode(t, "/proc/self/ns/net"): ""} {
				i := slices.IndexFunc(spaces, func(n linux.NetNS) bool { return n.Inode == ino })
				require.GreaterOrEqual(t, i, 0, "namespace %d (%q) not listed in %v", ino, name, spaces)
				assert.NoError(t, spaces[i].Err)
				if name != "" {
					assert.Equal(t, name, spaces[i].Name)
				}
			}
			assert.True(t, slices.IsSortedFunc(spaces, func(x, y linux.NetNS) int { return cmp.Compare(x.Inode, y.Inode) }))
		})
	}

	t.Run("KeysAgreeAcrossModes", func(t *testing.T) {
		all := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithAllNetNS())
		one := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithNetNS(a.Path))
		own := newScanOrSkip(t, linux.OwnerScanProcfs)
		q := tcptable.Query{Class: tcptable.ClassListeners} // stable: no TIME-WAIT expiring between the calls
		rowsAll, err := all.Table(context.Background(), q)
		require.NoError(t, err)
		rowsOne, err := one.Table(context.Background(), q)
		require.NoError(t, err)
		rowsOwn, err := own.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerNone})
		require.NoError(t, err)
		keys := func(rows []tcptable.Connection) []string {
			var k []string
			for _, c := range rows {
				k = append(k, c.Key().String())
			}
			slices.Sort(k)
			return k
		}
		require.NotEmpty(t, rowsOne)
		assert.Equal(t, keys(byNetNS(rowsAll, inoA)), keys(rowsOne), "WithNetNS and WithAllNetNS give a namespace's rows the same Keys")
		for _, c := range rowsOne {
			assert.Equal(t, inoA, c.NetNS)
			assert.Equal(t, a.Name, c.NetNSName)
		}
		self := nsInode(t, "/proc/self/ns/net")
		for _, c := range rowsOwn {
			assert.Equal(t, self, c.NetNS, "rows of a default provider carry its namespace: %v", c)
		}
		assert.Equal(t, []linux.NetNS{{Inode: inoA, Name: a.Name}}, one.NetNamespaces())
	})

	t.Run("StatsTrace", func(t *testing.T) {
		p := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithAllNetNS())
		rows, err := p.Table(context.Background(), tcptable.Query{Stats: true, States: []tcptable.State{tcptable.StateEstablished}})
		require.NoError(t, err)
		inB := byNetNS(rows, inoB)
		require.NotEmpty(t, inB)
		for _, c := range inB {
			assert.Equal(t, tcptable.StatsOK, c.StatsStatus, "another namespace's dump carries tcp_info too: %v", c)
			assert.NotNil(t, c.Stats)
		}
		// (Kill of another namespace's rows: TestKillOtherNetNS.)
		// It does not trace: a trace of one namespace would miss the others.
		src, why := p.TraceSource()
		assert.Equal(t, linux.TracePoll, src)
		assert.ErrorContains(t, why, "WithAllNetNS")
		err = p.Trace(context.Background(), tcptable.Query{}, func(tcptable.Event) error { return nil })
		assert.ErrorIs(t, err, tcptable.ErrNotSupported)
	})

	t.Run("DiffTellsNamespacesApart", func(t *testing.T) {
		p := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithAllNetNS())
		before, err := p.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		closeA()
		var events []tcptable.Event
		require.Eventually(t, func() bool {
			after, err := p.Table(context.Background(), tcptable.Query{})
			require.NoError(t, err)
			events = nil
			for _, e := range tcptable.Diff(before, after) {
				if e.Key.Local == sameListen || e.Key.Local == sameClient {
					events = append(events, e)
				}
			}
			return slices.ContainsFunc(events, func(e tcptable.Event) bool {
				return e.Kind == tcptable.EventClosed && e.Before.State == tcptable.StateListen
			})
		}, 10*time.Second, 50*time.Millisecond)
		for _, e := range events {
			assert.Equal(t, inoA, e.Key.NetNS, "only namespace a's tuple changed: %v", e)
		}
	})
}

// checkAllNetNSRows checks the rows of a WithAllNetNS table: no two share
// a Key, every row names its namespace, and the four-tuple made in each
// namespace of names comes out once in each, owned by this process.
func checkAllNetNSRows(t *testing.T, rows []tcptable.Connection, names map[uint64]string) {
	t.Helper()
	seen := map[tcptable.Key]bool{}
	for _, c := range rows {
		require.NotZero(t, c.NetNS, "%v", c)
		require.False(t, seen[c.Key()], "two rows with Key %v", c.Key())
		seen[c.Key()] = true
		if name, ok := names[c.NetNS]; ok {
			assert.Equal(t, name, c.NetNSName, "%v", c)
		}
	}
	for ino := range names {
		var tuple []tcptable.Connection
		for _, c := range byNetNS(rows, ino) {
			if c.Local == sameListen || c.Local == sameClient {
				tuple = append(tuple, c)
			}
		}
		require.Len(t, tuple, 3, "namespace %d: the listener and both ends of the pair: %v", ino, tuple)
		for _, c := range tuple {
			assert.Equal(t, uint32(os.Getpid()), c.PID, "%v", c)
		}
	}
}

// TestAllNetNSVanishes: a namespace made after the first call shows in
// the next, and one that disappears between calls leaves the table, the
// list and the provider's sockets (which would otherwise keep it alive).
func TestAllNetNSVanishes(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	p := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithAllNetNS())
	if err := netnstest.Available(); err != nil {
		testenv.SkipOrFail(t, "%v", err)
	}
	_, err = p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)

	ns, err := netnstest.NewNS(fmt.Sprintf("tcptable-all-%d-gone", os.Getpid()))
	if err != nil {
		testenv.SkipOrFail(t, "cannot create a network namespace here: %v", err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			ns.Close()
		}
	})
	child, err := netnstest.Start(ns, exe, netnstest.Spec{Listeners: 2, Established: 3}, false, time.Minute)
	require.NoError(t, err)
	ino := nsInode(t, ns.Path)

	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	assert.Len(t, byNetNS(rows, ino), 2+2+2*3, "2 listeners, 2 acceptors, 3 pairs")
	assert.Contains(t, linux.NetNSSockets(p), ino)

	require.NoError(t, child.Close())
	require.NoError(t, ns.Close())
	deleted = true
	rows, err = p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	assert.Empty(t, byNetNS(rows, ino))
	assert.NotContains(t, linux.NetNSSockets(p), ino, "the socket of a vanished namespace is closed")
	for _, n := range p.NetNamespaces() {
		assert.NotEqual(t, ino, n.Inode, "vanished namespace still listed")
	}
}

// dumpAll is the envDump value that makes the test binary print a
// WithAllNetNS table and its namespaces (allDump) as JSON.
const dumpAll = "all"

// allDump is what dumpAllMain prints.
type allDump struct {
	Rows       []tcptable.Connection `json:"rows"`
	Namespaces []dumpedNS            `json:"namespaces"`
}

type dumpedNS struct {
	Inode      uint64 `json:"inode"`
	Name       string `json:"name"`
	Err        string `json:"err"`
	Permission bool   `json:"permission"` // Err wraps tcptable.ErrPermission
}

func dumpAllMain() int {
	return netnstest.DumpMain(func() (any, error) {
		p, err := linux.New(linux.WithAllNetNS())
		if err != nil {
			return nil, err
		}
		defer p.Close()
		var d allDump
		if d.Rows, err = p.Table(context.Background(), tcptable.Query{}); err != nil {
			return nil, err
		}
		for _, n := range p.NetNamespaces() {
			dn := dumpedNS{Inode: n.Inode, Name: n.Name}
			if n.Err != nil {
				dn.Err, dn.Permission = n.Err.Error(), errors.Is(n.Err, tcptable.ErrPermission)
			}
			d.Namespaces = append(d.Namespaces, dn)
		}
		return d, nil
	})
}

// TestAllNetNSUnprivileged: nobody's WithAllNetNS table succeeds with the
// rows of its own namespace only, and lists the namespaces it could not
// enter with a permission error.
func TestAllNetNSUnprivileged(t *testing.T) {
	nobody := netnstest.NewNobodyExe(t)
	other := newTestNS(t, "priv")
	startChild(t, other, nobody.Path, netnstest.Spec{Listeners: 1, Established: 2})
	otherIno, self := nsInode(t, other.Path), nsInode(t, "/proc/self/ns/net")
	// A listener of root's in the own namespace: nobody sees the row but
	// not its owner.
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	port := uint16(l.Addr().(*net.TCPAddr).Port)

	cmd := nobody.Command(nil)
	cmd.Env = append(os.Environ(), envDump+"="+dumpAll)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	require.NoError(t, err, "a WithAllNetNS table as nobody must succeed")
	var d allDump
	require.NoError(t, json.Unmarshal(out, &d))

	mine := false
	for _, c := range d.Rows {
		require.Equal(t, self, c.NetNS, "nobody reads its own namespace only: %v", c)
		if c.Local.Port() == port && c.State == tcptable.StateListen {
			mine = true
			assert.Equal(t, tcptable.OwnerPermissionDenied, c.OwnerStatus)
		}
	}
	assert.True(t, mine, "root's listener in the own namespace is listed")
	var sawOwn, sawOther bool
	for _, n := range d.Namespaces {
		switch n.Inode {
		case self:
			sawOwn = true
			assert.Empty(t, n.Err)
		case otherIno:
			sawOther = true
			assert.Equal(t, other.Name, n.Name)
			assert.True(t, n.Permission, "skipped for want of permission: %q", n.Err)
			assert.Contains(t, n.Err, other.Name)
		}
	}
	assert.True(t, sawOwn && sawOther, "own and /run/netns namespaces listed: %+v", d.Namespaces)
}

// TestAllNetNSCreated: the dump of both families in one request carries
// the birth-time attribute as a sock_diag dump does: a listener of the
// caller's namespace born once the recorder runs has its Created.
func TestAllNetNSCreated(t *testing.T) {
	p, err := linux.New(linux.WithAllNetNS())
	require.NoError(t, err)
	defer p.Close()
	probe, err := linux.New()
	require.NoError(t, err)
	src, why := probe.TraceSource() // waits for a recorder of its own
	probe.Close()
	if src != linux.TraceBPF {
		testenv.SkipOrFail(t, "no BPF recorder here: %v", why)
	}
	// The provider's recorder loads in the background: a listener born
	// after it runs has a birth time.
	var created time.Time
	require.Eventually(t, func() bool {
		before := time.Now()
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		after := time.Now()
		port := uint16(ln.Addr().(*net.TCPAddr).Port)
		rows, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners, LocalPort: port})
		require.NoError(t, err)
		require.Len(t, rows, 1)
		created = rows[0].Created
		if created.IsZero() {
			return false
		}
		assert.False(t, created.Before(before) || created.After(after), "created %v not in [%v, %v]", created, before, after)
		return true
	}, 10*time.Second, 100*time.Millisecond)
}
