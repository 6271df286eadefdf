package gopsutil

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shirou/gopsutil/v4/net"
	"github.com/shirou/gopsutil/v4/process"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeProc is a process as gopsutil's process package would describe it.
type fakeProc struct {
	created   int64
	name, exe string
	uids      []uint32
	nameErr   error
	exeErr    error
}

func (f *fakeProc) CreateTimeWithContext(context.Context) (int64, error) { return f.created, nil }
func (f *fakeProc) NameWithContext(context.Context) (string, error)      { return f.name, f.nameErr }
func (f *fakeProc) ExeWithContext(context.Context) (string, error)       { return f.exe, f.exeErr }
func (f *fakeProc) UidsWithContext(context.Context) ([]uint32, error)    { return f.uids, nil }

// fakeHost is a table and a process list that a Provider reads through its
// list and open hooks.
type fakeHost struct {
	rows   []net.ConnectionStat
	procs  map[int32]*fakeProc
	listed []struct {
		kind string
		pid  int32
	}
	opens atomic.Int32
	err   error
}

func (h *fakeHost) list(_ context.Context, kind string, pid int32) ([]net.ConnectionStat, error) {
	h.listed = append(h.listed, struct {
		kind string
		pid  int32
	}{kind, pid})
	if h.err != nil {
		return nil, h.err
	}
	var out []net.ConnectionStat
	for _, r := range h.rows {
		if (pid == 0 || r.Pid == pid) && (kind == "tcp" || (kind == "tcp4") == (r.Family == 2)) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (h *fakeHost) open(_ context.Context, pid int32) (proc, error) {
	h.opens.Add(1)
	p, ok := h.procs[pid]
	if !ok {
		return nil, process.ErrorProcessNotRunning
	}
	return p, nil
}

// newFake returns a Provider of goos's dialect over h.
func newFake(t *testing.T, goos string, h *fakeHost, privileged bool) *Provider {
	t.Helper()
	return &Provider{d: mustDialect(t, goos), list: h.list, procs: newProcCache(h.open), privileged: privileged}
}

func row(fam uint32, status, l string, lport uint32, r string, rport uint32, pid int32) net.ConnectionStat {
	return net.ConnectionStat{Family: fam, Type: 1, Status: status, Pid: pid,
		Laddr: net.Addr{IP: l, Port: lport}, Raddr: net.Addr{IP: r, Port: rport}}
}

// linuxHost is a small Linux-like table: a listener, both ends of a
// connection, a TIME-WAIT row, an ownerless ESTABLISHED row and an IPv6
// listener whose owner exits before it is looked up.
func linuxHost() *fakeHost {
	return &fakeHost{
		rows: []net.ConnectionStat{
			row(2, "LISTEN", "127.0.0.1", 4660, "0.0.0.0", 0, 100),
			row(2, "ESTABLISHED", "127.0.0.1", 22136, "127.0.0.1", 4660, 200),
			row(2, "ESTABLISHED", "127.0.0.1", 4660, "127.0.0.1", 22136, 100),
			row(2, "TIME_WAIT", "127.0.0.1", 30000, "127.0.0.1", 4660, 0),
			row(2, "ESTABLISHED", "10.0.0.1", 30001, "10.0.0.2", 443, 0),
			row(10, "LISTEN", "::", 8080, "::", 0, 300),
		},
		procs: map[int32]*fakeProc{
			100: {created: 1, name: "server", exe: "/usr/bin/server", uids: []uint32{0, 1000, 0, 0}},
			200: {created: 2, name: "client", exe: "", exeErr: fs.ErrPermission},
		},
	}
}

func byLocal(t *testing.T, conns []tcptable.Connection, local string, st tcptable.State) tcptable.Connection {
	t.Helper()
	for _, c := range conns {
		if c.Local.String() == local && c.State == st {
			return c
		}
	}
	t.Fatalf("no %v row on %s in %v", st, local, conns)
	return tcptable.Connection{}
}

func TestTableOwners(t *testing.T) {
	h := linuxHost()
	p := newFake(t, "linux", h, true)
	conns, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	require.Len(t, conns, 6)

	l := byLocal(t, conns, "127.0.0.1:4660", tcptable.StateListen)
	assert.Equal(t, uint32(100), l.PID)
	assert.Equal(t, tcptable.OwnerOK, l.OwnerStatus)
	assert.Equal(t, tcptable.Module{Name: "server", Path: "/usr/bin/server"}, l.Module)
	assert.Equal(t, tcptable.OwnerOK, l.ModuleStatus)
	assert.Equal(t, tcptable.SourceGopsutil, l.ModuleSource)
	assert.True(t, l.HasUID)
	assert.Equal(t, uint32(1000), l.UID)
	assert.Equal(t, uint32(10), l.OSState, "kernel TCP_LISTEN")

	c := byLocal(t, conns, "127.0.0.1:22136", tcptable.StateEstablished)
	assert.Equal(t, tcptable.Module{Name: "client"}, c.Module, "unreadable exe leaves Path empty")
	assert.Equal(t, tcptable.OwnerOK, c.ModuleStatus)

	tw := byLocal(t, conns, "127.0.0.1:30000", tcptable.StateTimeWait)
	assert.Equal(t, uint32(0), tw.PID)
	assert.Equal(t, tcptable.OwnerKernel, tw.OwnerStatus)
	assert.Equal(t, tcptable.OwnerKernel, tw.ModuleStatus)
	assert.Equal(t, tcptable.SourceNone, tw.ModuleSource)

	nf := byLocal(t, conns, "10.0.0.1:30001", tcptable.StateEstablished)
	assert.Equal(t, tcptable.OwnerNotFound, nf.OwnerStatus)

	v6 := byLocal(t, conns, "[::]:8080", tcptable.StateListen)
	assert.Equal(t, uint32(300), v6.PID)
	assert.Equal(t, tcptable.OwnerOK, v6.OwnerStatus)
	assert.Equal(t, tcptable.OwnerExited, v6.ModuleStatus)
	assert.True(t, v6.Module.IsZero())
	assert.Equal(t, netip.MustParseAddrPort("[::]:0"), v6.Remote)

	// One open per distinct PID per call, not per row.
	assert.Equal(t, int32(3), h.opens.Load())
}

func TestTableDetailLevels(t *testing.T) {
	h := linuxHost()
	p := newFake(t, "linux", h, true)
	ctx := context.Background()

	conns, err := p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerNone})
	require.NoError(t, err)
	require.Len(t, conns, 6)
	for _, c := range conns {
		assert.Zero(t, c.PID, "%v", c)
		assert.Equal(t, tcptable.OwnerNotRequested, c.OwnerStatus)
		assert.Equal(t, tcptable.OwnerNotRequested, c.ModuleStatus)
		assert.True(t, c.Module.IsZero())
	}

	conns, err = p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.NoError(t, err)
	l := byLocal(t, conns, "127.0.0.1:4660", tcptable.StateListen)
	assert.Equal(t, uint32(100), l.PID)
	assert.Equal(t, tcptable.OwnerOK, l.OwnerStatus)
	assert.Equal(t, tcptable.OwnerNotRequested, l.ModuleStatus)
	tw := byLocal(t, conns, "127.0.0.1:30000", tcptable.StateTimeWait)
	assert.Equal(t, tcptable.OwnerKernel, tw.OwnerStatus)
	assert.Equal(t, tcptable.OwnerNotRequested, tw.ModuleStatus, "OwnerPIDs: no module status, PID or not")
	assert.Zero(t, h.opens.Load(), "no process is opened below OwnerModules")

	// A PID condition forces PIDs and is pushed down to gopsutil.
	conns, err = p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerNone, PID: 100})
	require.NoError(t, err)
	require.Len(t, conns, 2)
	for _, c := range conns {
		assert.Equal(t, uint32(100), c.PID)
		assert.Equal(t, tcptable.OwnerOK, c.OwnerStatus)
	}
	assert.Equal(t, int32(100), h.listed[len(h.listed)-1].pid)

	// A Process condition forces modules.
	conns, err = p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerNone, Process: "CLIENT"})
	require.NoError(t, err)
	require.Len(t, conns, 1)
	assert.Equal(t, "client", conns[0].Module.Name)
}

func TestTableFiltersThroughMatch(t *testing.T) {
	queries := []tcptable.Query{
		{},
		{Class: tcptable.ClassListeners},
		{Class: tcptable.ClassConnections},
		{Family: tcptable.IPv4},
		{Family: tcptable.IPv6},
		{States: []tcptable.State{tcptable.StateTimeWait}},
		{LocalPort: 4660},
		{RemotePort: 4660},
		{Port: 4660, Class: tcptable.ClassConnections},
		{PID: 200},
		{PID: 999},
		{Process: "server"},
	}
	h := linuxHost()
	p := newFake(t, "linux", h, true)
	all, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	for _, q := range queries {
		got, err := p.Table(context.Background(), q)
		require.NoError(t, err, "%+v", q)
		want := q.Filter(append([]tcptable.Connection(nil), all...))
		assert.ElementsMatch(t, want, got, "%+v", q)
		for _, c := range got {
			assert.True(t, q.Match(c), "%+v does not match %v", q, c)
		}
	}
	kinds := map[string]bool{}
	for _, l := range h.listed {
		kinds[l.kind] = true
	}
	assert.Equal(t, map[string]bool{"tcp": true, "tcp4": true, "tcp6": true}, kinds, "the family is pushed down")
}

func TestTableNoOwnersOS(t *testing.T) {
	h := &fakeHost{rows: []net.ConnectionStat{
		row(2, "ESTABLISHED", "10.0.0.1", 22, "10.0.0.2", 50000, 0),
		row(24, "LISTEN", "::", 22, "", 0, 0),
	}}
	p := newFake(t, "openbsd", h, true)
	conns, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	require.Len(t, conns, 2)
	for _, c := range conns {
		assert.Equal(t, tcptable.OwnerNotSupported, c.OwnerStatus)
		assert.Equal(t, tcptable.OwnerNotSupported, c.ModuleStatus)
	}
	n := len(h.listed)
	conns, err = p.Table(context.Background(), tcptable.Query{PID: 1})
	require.NoError(t, err)
	assert.Empty(t, conns)
	assert.Len(t, h.listed, n, "no netstat run when no row can match a PID")
}

func TestTableMergesLsofDuplicates(t *testing.T) {
	h := &fakeHost{
		rows: []net.ConnectionStat{
			row(30, "LISTEN", "*", 8080, "", 0, 52),
			row(30, "LISTEN", "*", 8080, "", 0, 51),
			row(30, "LISTEN", "*", 8080, "", 0, 51),
		},
		procs: map[int32]*fakeProc{51: {created: 1, name: "nginx"}, 52: {created: 1, name: "nginx"}},
	}
	p := newFake(t, "darwin", h, false)
	conns, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	require.Len(t, conns, 1)
	assert.Equal(t, uint32(51), conns[0].PID)
	assert.Equal(t, []uint32{52}, conns[0].OtherPIDs)
	assert.Equal(t, netip.MustParseAddrPort("[::]:8080"), conns[0].Local)

	// The other owner matches a PID query too.
	conns, err = p.Table(context.Background(), tcptable.Query{PID: 52})
	require.NoError(t, err)
	require.Len(t, conns, 1)
}

// TestTableErrors checks Table's errors: what they wrap, and that every
// one names the package once, at its start.
func TestTableErrors(t *testing.T) {
	h := linuxHost()
	p := newFake(t, "linux", h, true)
	table := func(ctx context.Context) error {
		t.Helper()
		_, err := p.Table(ctx, tcptable.Query{})
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "tcptable/gopsutil: Table: "), "%q", err)
		assert.Equal(t, 1, strings.Count(err.Error(), "tcptable/gopsutil"), "%q names the package more than once", err)
		return err
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := table(ctx)
	require.ErrorIs(t, err, context.Canceled)

	// A query Validate rejects: the provider's prefix, then the cause, and
	// the text names the project once.
	_, err = p.Table(context.Background(), tcptable.Query{Family: 9})
	assert.EqualError(t, err, "tcptable/gopsutil: Table: query: invalid input: unknown Family Family(9)")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)

	h.err = errors.New("not implemented yet")
	err = table(context.Background())
	require.ErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), "linux")

	h.err = errors.New("exec: lsof: not found")
	err = table(context.Background())
	assert.NotErrorIs(t, err, tcptable.ErrNotSupported)
	assert.Contains(t, err.Error(), "lsof: not found")

	h.err = nil
	h.rows = append(h.rows, row(2, "BOGUS", "127.0.0.1", 1, "127.0.0.1", 2, 1))
	err = table(context.Background())
	require.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.Contains(t, err.Error(), "BOGUS")

	require.NoError(t, p.Close())
	require.NoError(t, p.Close(), "Close is idempotent")
	err = table(context.Background())
	require.ErrorIs(t, err, tcptable.ErrClosed)
}

// cancelOnList cancels its context while gopsutil lists, as a slow lsof
// run would be cut short.
func TestTableContextCancelledDuringList(t *testing.T) {
	h := linuxHost()
	ctx, cancel := context.WithCancel(context.Background())
	p := newFake(t, "linux", h, true)
	p.list = func(ctx context.Context, kind string, pid int32) ([]net.ConnectionStat, error) {
		cancel()
		return h.list(ctx, kind, pid)
	}
	_, err := p.Table(ctx, tcptable.Query{})
	require.ErrorIs(t, err, context.Canceled)
}

func TestProcCache(t *testing.T) {
	h := linuxHost()
	c := newProcCache(h.open)
	ctx := context.Background()

	f := c.lookup(ctx, 100)
	assert.Equal(t, "server", f.module.Name)
	assert.Equal(t, 1, c.len())
	h.procs[100].name = "renamed" // cached per (PID, creation time)
	assert.Equal(t, "server", c.lookup(ctx, 100).module.Name)

	// PID reuse: a new creation time is a new process.
	h.procs[100] = &fakeProc{created: 9, name: "other"}
	assert.Equal(t, "other", c.lookup(ctx, 100).module.Name)

	// Gone and unreadable processes.
	assert.Equal(t, tcptable.OwnerExited, c.lookup(ctx, 4242).status)
	h.procs[7] = &fakeProc{created: 1, nameErr: fs.ErrPermission}
	assert.Equal(t, tcptable.OwnerPermissionDenied, c.lookup(ctx, 7).status)
	h.procs[8] = &fakeProc{created: 1, exe: "/sbin/init"}
	assert.Equal(t, "init", c.lookup(ctx, 8).module.Name, "name falls back to the executable's base name")

	// Entries unused for two sweeps are forgotten.
	n := c.len()
	require.Positive(t, n)
	c.startSweep()
	c.startSweep()
	c.lookup(ctx, 8)
	c.startSweep()
	assert.Equal(t, 1, c.len(), "only the entry used in the last sweeps survives")
}

func TestFailureStatus(t *testing.T) {
	assert.Equal(t, tcptable.OwnerExited, failureStatus(process.ErrorProcessNotRunning))
	assert.Equal(t, tcptable.OwnerExited, failureStatus(&fs.PathError{Op: "open", Path: "/proc/1/stat", Err: fs.ErrNotExist}))
	assert.Equal(t, tcptable.OwnerPermissionDenied, failureStatus(&fs.PathError{Op: "readlink", Path: "/proc/1/exe", Err: fs.ErrPermission}))
	assert.Equal(t, tcptable.OwnerUnknown, failureStatus(errors.New("sysctl: odd")))
}

// TestOptionsInvalid checks that New rejects an option's argument it
// cannot use with an error wrapping tcptable.ErrInvalid that names the
// option, before it looks at the OS.
func TestOptionsInvalid(t *testing.T) {
	p, err := New(WithHostProc(""))
	require.Error(t, err)
	assert.Nil(t, p)
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.False(t, errors.Is(err, tcptable.ErrNotSupported), "invalid options are reported first")
	assert.ErrorContains(t, err, `tcptable/gopsutil: New: invalid input: WithHostProc(""): `)
}
