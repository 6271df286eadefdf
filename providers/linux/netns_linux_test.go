package linux_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
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

// nsFixture is a namespace with sockets held by child processes.
type nsFixture struct {
	ns       *netnstest.NS
	children []*netnstest.Child
}

// newNSFixture creates a namespace and starts one child per spec (asUser
// parallel to specs says which run as nobody), or skips with a hint.
func newNSFixture(t *testing.T, exe string, specs []netnstest.Spec, asUser []bool) *nsFixture {
	t.Helper()
	ns := netnstest.NewForTest(t, "tcptable-test")
	f := &nsFixture{ns: ns}
	for i, spec := range specs {
		c, err := netnstest.Start(ns, exe, spec, asUser[i], time.Minute)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		f.children = append(f.children, c)
	}
	return f
}

// ssTable runs ss -tanpH in the namespace, as root.
func (f *nsFixture) ssTable(t *testing.T) []netnstest.SSRow {
	t.Helper()
	out, err := f.ns.Exec("ss", "-tanpH").Output()
	require.NoError(t, err)
	rows, err := netnstest.ParseSS(out)
	require.NoError(t, err)
	return rows
}

// rowKey identifies a row the way ss shows it.
func rowKey(st tcptable.State, l, r fmt.Stringer) string {
	return st.String() + " " + l.String() + " " + r.String()
}

// ssOwners maps each ss row to its owners.
func ssOwners(rows []netnstest.SSRow) map[string][]uint32 {
	m := map[string][]uint32{}
	for _, r := range rows {
		m[rowKey(r.State, r.Local, r.Remote)] = r.PIDs
	}
	return m
}

// providerOwners maps each provider row to its owners.
func providerOwners(rows []tcptable.Connection) map[string][]uint32 {
	m := map[string][]uint32{}
	for _, c := range rows {
		m[rowKey(c.State, c.Local, c.Remote)] = c.Owners()
	}
	return m
}

// diffOwners describes the differences between two owner maps, "" if none.
func diffOwners(want, got map[string][]uint32) string {
	var d []string
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			d = append(d, "missing "+k)
		case !slices.Equal(w, g):
			d = append(d, fmt.Sprintf("%s: owners %v, ss says %v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			d = append(d, "extra "+k)
		}
	}
	slices.Sort(d)
	if len(d) > 10 {
		d = append(d[:10], fmt.Sprintf("... %d more", len(d)-10))
	}
	return strings.Join(d, "\n")
}

// differentialSpecs are the two root children's sockets: several hundred
// rows in LISTEN, ESTABLISHED, FIN-WAIT-2, CLOSE-WAIT and TIME-WAIT over
// IPv4 and IPv6, one listener shared with a grandchild.
var differentialSpecs = []netnstest.Spec{
	{Listeners: 20, Established: 60, HalfClosed: 20, TimeWait: 20, Share: true},
	{Listeners: 10, Established: 40, HalfClosed: 10, TimeWait: 10},
}

func TestDifferentialNetNS(t *testing.T) {
	exe, err := os.Executable()
	require.NoError(t, err)
	f := newNSFixture(t, exe, differentialSpecs, []bool{false, false})
	for _, scan := range []linux.OwnerScan{linux.OwnerScanBPF, linux.OwnerScanProcfs} {
		t.Run(scan.String(), func(t *testing.T) { testDifferential(t, f, exe, scan) })
	}
}

// newScanOrSkip returns a provider with the owner scan, skipping the test
// where the BPF scan is not available.
func newScanOrSkip(t *testing.T, scan linux.OwnerScan, opts ...linux.Option) *linux.Provider {
	t.Helper()
	p, err := linux.New(append(opts, linux.WithOwnerScan(scan))...)
	if scan == linux.OwnerScanBPF && errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(t, "BPF owner scan not available (%v): run as root on Linux 5.8+ with /sys/kernel/btf/vmlinux", err)
	}
	require.NoError(t, err)
	t.Cleanup(func() { p.Close() })
	require.Equal(t, scan, p.OwnerScan())
	return p
}

// testDifferential compares a provider with the owner scan against ss -tanp
// in the fixture's namespace.
func testDifferential(t *testing.T, f *nsFixture, exe string, scan linux.OwnerScan) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, err := os.Readlink("/proc/thread-self/ns/net")
	require.NoError(t, err)

	p := newScanOrSkip(t, scan, linux.WithNetNS(f.ns.Path))

	var rows []tcptable.Connection
	var diff string
	for range 5 { // a pair may still be settling (LAST-ACK) right after READY
		want := ssOwners(f.ssTable(t))
		rows, err = p.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		if diff = diffOwners(want, providerOwners(rows)); diff == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Empty(t, diff, "provider and ss -tanp disagree")

	after, err := os.Readlink("/proc/thread-self/ns/net")
	require.NoError(t, err)
	assert.Equal(t, before, after, "the calling thread must not move to the namespace")

	states := map[tcptable.State]int{}
	shared := false
	exeBase := filepath.Base(exe)
	for _, c := range rows {
		states[c.State]++
		shared = shared || slices.Contains(c.OtherPIDs, uint32(f.children[0].SharerPID))
		if c.State == tcptable.StateTimeWait {
			assert.Equal(t, tcptable.OwnerKernel, c.OwnerStatus)
			continue
		}
		assert.Equal(t, tcptable.OwnerOK, c.OwnerStatus, "%v", c.Key())
		assert.Equal(t, exeBase, c.Module.Name, "the whole name, however long")
		assert.Equal(t, exe, c.Module.Path)
		assert.NotZero(t, c.Socket)
		assert.True(t, c.HasUID)
	}
	assert.Greater(t, len(rows), 300)
	for _, st := range []tcptable.State{tcptable.StateListen, tcptable.StateEstablished,
		tcptable.StateFinWait2, tcptable.StateCloseWait, tcptable.StateTimeWait} {
		assert.Positive(t, states[st], "no %v rows", st)
	}
	assert.True(t, shared, "the listener shared with a grandchild lists both PIDs")

	t.Run("ProcNetAgrees", func(t *testing.T) {
		pp := newScanOrSkip(t, scan, linux.WithNetNS(f.ns.Path), linux.WithSource(linux.SourceProcNet))
		require.Equal(t, linux.SourceProcNet, pp.Source())
		nl, err := p.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		pn, err := pp.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		sortRows(nl)
		sortRows(pn)
		assert.Equal(t, nl, pn, "sock_diag and /proc/net/tcp{,6} must give the same rows")
	})

	t.Run("Listeners", func(t *testing.T) {
		ls, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
		require.NoError(t, err)
		assert.Equal(t, states[tcptable.StateListen], len(ls))
		for _, c := range ls {
			assert.Equal(t, tcptable.StateListen, c.State)
			assert.NotZero(t, c.PID)
		}
	})

	t.Run("TableIntoReusesTheArray", func(t *testing.T) {
		a, err := p.Table(context.Background(), tcptable.Query{})
		require.NoError(t, err)
		want := providerOwners(a)
		first := &a[:1][0]
		b, err := p.TableInto(context.Background(), tcptable.Query{}, a)
		require.NoError(t, err)
		require.NotEmpty(t, b)
		assert.Same(t, first, &b[0], "the previous answer's array is reused")
		assert.Empty(t, diffOwners(want, providerOwners(b)))
		c, err := p.TableInto(context.Background(), tcptable.Query{}, make([]tcptable.Connection, 0, 1))
		require.NoError(t, err)
		assert.Empty(t, diffOwners(want, providerOwners(c)), "a too small buffer is not used")
	})

	if scan == linux.OwnerScanBPF {
		t.Run("ProcfsScanAgrees", func(t *testing.T) {
			pp := newScanOrSkip(t, linux.OwnerScanProcfs, linux.WithNetNS(f.ns.Path))
			var a, b []tcptable.Connection
			for range 5 { // a pair may still be settling
				a, err = p.Table(context.Background(), tcptable.Query{})
				require.NoError(t, err)
				b, err = pp.Table(context.Background(), tcptable.Query{})
				require.NoError(t, err)
				sortRows(a)
				sortRows(b)
				if slices.EqualFunc(a, b, func(x, y tcptable.Connection) bool { return reflect.DeepEqual(x, y) }) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			assert.Equal(t, b, a, "the BPF and /proc owner scans must give the same rows, owners and modules")
		})
	}

	t.Run("FirstOwnerOnly", func(t *testing.T) {
		pf := newScanOrSkip(t, scan, linux.WithNetNS(f.ns.Path), linux.WithFirstOwnerOnly())
		exact, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
		require.NoError(t, err)
		holders := map[string][]uint32{}
		for _, c := range exact {
			holders[c.Key().String()] = append([]uint32{c.PID}, c.OtherPIDs...)
		}
		ls, err := pf.Table(context.Background(), tcptable.Query{Class: tcptable.ClassListeners})
		require.NoError(t, err)
		require.Len(t, ls, len(exact))
		for _, c := range ls {
			assert.Equal(t, tcptable.OwnerOK, c.OwnerStatus)
			assert.Contains(t, holders[c.Key().String()], c.PID, "the owner found is a real holder")
		}
	})
}

func sortRows(rows []tcptable.Connection) {
	slices.SortFunc(rows, func(a, b tcptable.Connection) int {
		return strings.Compare(a.Key().String(), b.Key().String())
	})
}

func TestDifferentialUnprivileged(t *testing.T) {
	nobody := netnstest.NewNobodyExe(t)
	specs := append(slices.Clone(differentialSpecs), netnstest.Spec{Listeners: 5, Established: 20, HalfClosed: 5})
	f := newNSFixture(t, nobody.Path, specs, []bool{false, false, true})
	mine := uint32(f.children[2].PID)

	var rows []tcptable.Connection
	var diff string
	for range 5 {
		want := ssOwners(f.ssTable(t))
		cmd := nobody.Command(f.ns)
		cmd.Env = append(os.Environ(), envDump+"=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		require.NoError(t, err, "Table as nobody must succeed")
		rows = nil
		require.NoError(t, json.Unmarshal(out, &rows))
		// What nobody can see: its own child's owners; others are denied.
		for k, pids := range want {
			if !slices.Equal(pids, []uint32{mine}) {
				want[k] = nil
			}
		}
		if diff = diffOwners(want, providerOwners(rows)); diff == "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Empty(t, diff, "unprivileged provider and ss -tanp disagree")
	denied, own := 0, 0
	for _, c := range rows {
		switch {
		case c.State == tcptable.StateTimeWait:
			assert.Equal(t, tcptable.OwnerKernel, c.OwnerStatus)
		case c.PID == mine:
			own++
			assert.Equal(t, tcptable.OwnerOK, c.OwnerStatus)
			assert.Equal(t, uint32(netnstest.Unprivileged), c.UID)
		default:
			denied++
			assert.Equal(t, uint32(0), c.PID)
			assert.Equal(t, tcptable.OwnerPermissionDenied, c.OwnerStatus, "%v", c.Key())
		}
	}
	assert.Positive(t, denied)
	assert.Positive(t, own)
}
