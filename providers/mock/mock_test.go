package mock_test

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

var ap = netip.MustParseAddrPort

// sample is a small table with every kind of row.
func sample() []tcptable.Connection {
	return []tcptable.Connection{
		{State: tcptable.StateListen, Local: ap("0.0.0.0:22"), PID: 1, Module: tcptable.Module{Name: "sshd", Path: "/usr/sbin/sshd"}},
		{State: tcptable.StateListen, Local: ap("[::]:443"), PID: 300, Socket: 7, Module: tcptable.Module{Name: "nginx"}},
		{State: tcptable.StateEstablished, Local: ap("10.0.0.5:22"), Remote: ap("10.0.0.9:50123"), PID: 1, OtherPIDs: []uint32{2, 3},
			Module: tcptable.Module{Name: "sshd"}, OwningModuleInfo: &[16]uint64{1, 2}},
		{State: tcptable.StateTimeWait, Local: ap("[::1]:40000"), Remote: ap("[::1]:8080"), OwnerStatus: tcptable.OwnerKernel},
	}
}

// TestConformance: the mock passes the suite, as its own Env.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		return p, p
	})
}

func TestNewCompletesRows(t *testing.T) {
	rows := mock.New(sample()...).Rows()
	require.Len(t, rows, 4)
	assert.Equal(t, ap("0.0.0.0:0"), rows[0].Remote, "a listener gets the unspecified remote of its family")
	assert.Equal(t, ap("[::]:0"), rows[1].Remote)
	assert.Equal(t, tcptable.OwnerOK, rows[0].OwnerStatus, "a PID gets OwnerOK")
	assert.Equal(t, tcptable.OwnerOK, rows[0].ModuleStatus, "a module gets OwnerOK")
	assert.Equal(t, tcptable.SourceSynthetic, rows[0].ModuleSource)
	assert.Equal(t, tcptable.OwnerKernel, rows[3].OwnerStatus, "a given status stays")
	assert.Equal(t, tcptable.OwnerUnknown, rows[3].ModuleStatus, "no module, no module status")
}

func TestTableFollowsMatchAndDetail(t *testing.T) {
	p := mock.New(sample()...)
	all := p.Rows()
	for _, q := range []tcptable.Query{
		{},
		{Class: tcptable.ClassListeners},
		{Class: tcptable.ClassConnections, Family: tcptable.IPv6},
		{PID: 2},
		{Process: "SSHD", Owners: tcptable.OwnerNone},
		{Owners: tcptable.OwnerPIDs},
		{Owners: tcptable.OwnerNone},
		{States: []tcptable.State{tcptable.StateTimeWait}, Port: 8080},
	} {
		got, err := p.Table(context.Background(), q)
		require.NoError(t, err)
		want := q.Filter(append([]tcptable.Connection(nil), all...))
		require.Len(t, got, len(want), "query %+v", q)
		d := q.Detail()
		for i, c := range got {
			assert.Equal(t, want[i].Key().Local, c.Local, "rows keep their order")
			if !d.WantPIDs() {
				assert.Zero(t, c.PID)
				assert.Nil(t, c.OtherPIDs)
				assert.Equal(t, tcptable.OwnerNotRequested, c.OwnerStatus)
			} else {
				assert.Equal(t, want[i].PID, c.PID)
			}
			if !d.WantModules() {
				assert.True(t, c.Module.IsZero())
				assert.Equal(t, want[i].OwningModuleInfo, c.OwningModuleInfo, "raw OS data stays, as on Windows")
				assert.Equal(t, tcptable.OwnerNotRequested, c.ModuleStatus)
			} else {
				assert.Equal(t, want[i].Module, c.Module)
			}
		}
	}
}

func TestTableReturnsCopies(t *testing.T) {
	p := mock.New(sample()...)
	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	rows[2].OtherPIDs[0] = 999
	rows[2].OwningModuleInfo[0] = 999
	rows[2].State = tcptable.StateClosed
	again := p.Rows()
	assert.Equal(t, []uint32{2, 3}, again[2].OtherPIDs)
	assert.Equal(t, uint64(1), again[2].OwningModuleInfo[0])
	assert.Equal(t, tcptable.StateEstablished, again[2].State)
}

func TestEdits(t *testing.T) {
	rows := sample()
	p := mock.New(rows[:2]...)

	p.Add(rows[2])
	renamed := rows[0]
	renamed.Module.Name = "sshd-renamed"
	p.Add(renamed)
	got := p.Rows()
	require.Len(t, got, 3, "a row with an existing Key replaces it")
	assert.Equal(t, "sshd-renamed", got[0].Module.Name, "in place")

	assert.True(t, p.SetState(rows[2].Key(), tcptable.StateCloseWait))
	assert.False(t, p.SetState(rows[3].Key(), tcptable.StateCloseWait), "no such row")
	assert.Equal(t, tcptable.StateCloseWait, p.Rows()[2].State)

	assert.True(t, p.Update(rows[2].Key(), func(c *tcptable.Connection) { c.PID = 0; c.OwnerStatus = tcptable.OwnerExited }))
	assert.Equal(t, tcptable.OwnerExited, p.Rows()[2].OwnerStatus)

	// An edit that gives a row another row's Key replaces that row.
	assert.True(t, p.Update(rows[2].Key(), func(c *tcptable.Connection) { *c = rows[1] }))
	assert.Len(t, p.Rows(), 2)

	assert.Equal(t, 1, p.Remove(rows[0].Key(), rows[3].Key()))
	assert.Len(t, p.Rows(), 1)

	p.Set(rows...)
	assert.Len(t, p.Rows(), 4)
	p.Set()
	assert.Empty(t, p.Rows())
}

func TestFailNext(t *testing.T) {
	boom, bang := errors.New("boom"), errors.New("bang")
	p := mock.New(sample()...)
	p.FailNext(boom, nil, bang)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := p.Table(ctx, tcptable.Query{})
	require.ErrorIs(t, err, context.Canceled, "an ended context does not use up a fault")

	_, err = p.Table(context.Background(), tcptable.Query{})
	assert.Equal(t, boom, err)
	rows, err := p.Table(context.Background(), tcptable.Query{})
	assert.NoError(t, err, "nil answers normally")
	assert.Len(t, rows, 4)
	_, err = p.Table(context.Background(), tcptable.Query{})
	assert.Equal(t, bang, err)
	_, err = p.Table(context.Background(), tcptable.Query{})
	assert.NoError(t, err)
}

func TestLatencyHonoursContext(t *testing.T) {
	p := mock.New(sample()...)
	p.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := p.Table(ctx, tcptable.Query{})
	require.ErrorIs(t, err, context.DeadlineExceeded)

	p.SetLatency(time.Millisecond)
	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	assert.Len(t, rows, 4)
}

func TestQueriesRecorded(t *testing.T) {
	p := mock.New()
	states := []tcptable.State{tcptable.StateListen}
	_, _ = p.Table(context.Background(), tcptable.Query{States: states})
	require.NoError(t, p.Close())
	_, _ = p.Table(context.Background(), tcptable.Query{Port: 80})
	states[0] = tcptable.StateClosed

	qs := p.Queries()
	require.Len(t, qs, 2, "failed calls are recorded too")
	assert.Equal(t, []tcptable.State{tcptable.StateListen}, qs[0].States, "a deep copy")
	assert.Equal(t, uint16(80), qs[1].Port)
}

func TestClose(t *testing.T) {
	p := mock.New(sample()...)
	require.NoError(t, p.Close())
	require.NoError(t, p.Close())
	_, err := p.Table(context.Background(), tcptable.Query{})
	require.ErrorIs(t, err, tcptable.ErrClosed)
	assert.Len(t, p.Rows(), 4, "the rows stay for Rows and Save")
}

func TestEnv(t *testing.T) {
	p := mock.New()
	exe, err := os.Executable()
	require.NoError(t, err)
	pid := uint32(os.Getpid())

	ln, err := p.Listen("tcp6")
	require.NoError(t, err)
	pair, err := p.Dial("tcp4")
	require.NoError(t, err)
	rows := p.Rows()
	require.Len(t, rows, 3)
	ports := map[uint16]bool{}
	for _, c := range rows {
		assert.Equal(t, pid, c.PID)
		assert.Equal(t, tcptable.Module{Name: filepath.Base(exe), Path: exe}, c.Module)
		assert.Equal(t, tcptable.SourceSynthetic, c.ModuleSource)
		assert.NotEqual(t, c.Local.Port()>>8, c.Local.Port()&0xff)
		assert.False(t, ports[c.Local.Port()], "port %d used twice", c.Local.Port())
		ports[c.Local.Port()] = true
	}
	assert.Equal(t, ln.Addr(), rows[0].Local)
	assert.Equal(t, ap("[::]:0"), rows[0].Remote)
	assert.Equal(t, pair.Client(), rows[1].Local)
	assert.Equal(t, pair.Server(), rows[1].Remote)
	assert.Equal(t, pair.Server(), rows[2].Local)

	require.NoError(t, pair.CloseWrite())
	rows = p.Rows()
	assert.Equal(t, tcptable.StateFinWait2, rows[1].State)
	assert.Equal(t, tcptable.StateCloseWait, rows[2].State)

	require.NoError(t, pair.CloseActive())
	rows = p.Rows()
	require.Len(t, rows, 2)
	assert.Equal(t, tcptable.StateTimeWait, rows[1].State)
	assert.Zero(t, rows[1].PID)
	assert.Equal(t, tcptable.OwnerKernel, rows[1].OwnerStatus)
	assert.True(t, rows[1].Module.IsZero())

	require.NoError(t, pair.Close())
	require.NoError(t, pair.Close())
	require.NoError(t, ln.Close())
	assert.Empty(t, p.Rows())

	_, err = p.Listen("udp")
	require.ErrorIs(t, err, tcptable.ErrInvalid)
	_, err = p.Dial("tcp")
	require.ErrorIs(t, err, tcptable.ErrInvalid)
}

func TestEnvPortsAvoidRowsInUse(t *testing.T) {
	p := mock.New(tcptable.Connection{State: tcptable.StateListen, Local: ap("127.0.0.1:40000")})
	ln, err := p.Listen("tcp4")
	require.NoError(t, err)
	assert.NotEqual(t, uint16(40000), ln.Addr().Port())
}

func TestConcurrentUse(t *testing.T) {
	p := mock.New(sample()...)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				rows, err := p.Table(context.Background(), tcptable.Query{Class: tcptable.ClassConnections})
				assert.NoError(t, err)
				for _, c := range rows {
					assert.NotEqual(t, tcptable.StateListen, c.State)
				}
			}
		})
	}
	wg.Go(func() {
		for range 50 {
			pair, err := p.Dial("tcp4")
			assert.NoError(t, err)
			assert.NoError(t, pair.CloseActive())
			assert.NoError(t, pair.Close())
			p.Add(sample()[3])
			p.FailNext(nil)
			_ = p.Queries()
		}
	})
	wg.Wait()
	assert.Len(t, p.Rows(), 4)
}
