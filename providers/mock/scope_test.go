package mock_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// TestConformanceInScope: endpoints simulated in a namespace and container
// pass the suite as the provider's own do.
func TestConformanceInScope(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p := mock.New()
		return p, p.In(mock.Scope{NetNS: 4026532001, NetNSName: "blue", Container: "c0ffee"})
	})
}

func TestScopeRows(t *testing.T) {
	p := mock.New()
	blue := mock.Scope{NetNS: 4026532001, NetNSName: "blue", Container: "abc"}
	l, err := p.In(blue).Listen("tcp4")
	require.NoError(t, err)
	pair, err := p.In(blue).Dial("tcp6")
	require.NoError(t, err)
	own, err := p.Listen("tcp4")
	require.NoError(t, err)

	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	require.Len(t, rows, 4)
	for _, c := range rows {
		if c.Local == own.Addr() {
			assert.Zero(t, c.NetNS)
			assert.Empty(t, c.NetNSName+c.Container)
			continue
		}
		assert.Equal(t, blue.NetNS, c.NetNS, "%v", c)
		assert.Equal(t, "blue", c.NetNSName)
		assert.Equal(t, "abc", c.Container)
		assert.Equal(t, blue.NetNS, c.Key().NetNS)
	}

	// Container comes with the module, as from a real provider.
	rows, err = p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.NoError(t, err)
	for _, c := range rows {
		assert.Empty(t, c.Container, "not requested: %v", c)
		assert.NotZero(t, c.PID)
	}

	// The pair and listener still work through their Keys.
	require.NoError(t, pair.CloseActive())
	tw := p.Rows()
	var timeWait []tcptable.Connection
	for _, c := range tw {
		if c.State == tcptable.StateTimeWait {
			timeWait = append(timeWait, c)
		}
	}
	require.Len(t, timeWait, 1)
	assert.Equal(t, blue.NetNS, timeWait[0].NetNS, "TIME-WAIT stays in its namespace")
	assert.Empty(t, timeWait[0].Container, "and has no owner, so no container")
	require.NoError(t, pair.Close())
	require.NoError(t, l.Close())
	assert.Len(t, p.Rows(), 1)

	pid, stop, err := p.In(blue).Share(own)
	require.NoError(t, err)
	assert.NotZero(t, pid)
	require.NoError(t, stop())
}

// TestSameTupleTwoNamespaces: equal four-tuples in two namespaces are two
// rows, removed, changed and diffed separately.
func TestSameTupleTwoNamespaces(t *testing.T) {
	ap := netip.MustParseAddrPort
	row := func(ns uint64, name string) tcptable.Connection {
		return tcptable.Connection{State: tcptable.StateEstablished, Local: ap("10.0.0.1:80"), Remote: ap("10.0.0.2:5000"),
			PID: 10, NetNS: ns, NetNSName: name}
	}
	p := mock.New(row(1, "a"), row(2, "b"))
	before := p.Rows()
	require.Len(t, before, 2)
	require.NotEqual(t, before[0].Key(), before[1].Key())

	require.True(t, p.SetState(before[1].Key(), tcptable.StateCloseWait))
	require.Equal(t, 1, p.Remove(before[0].Key()))
	after := p.Rows()
	require.Len(t, after, 1)
	assert.Equal(t, "b", after[0].NetNSName)
	assert.Equal(t, tcptable.StateCloseWait, after[0].State)

	events := tcptable.Diff(before, after)
	require.Len(t, events, 2)
	assert.Equal(t, tcptable.EventClosed, events[0].Kind)
	assert.Equal(t, uint64(1), events[0].Key.NetNS, "namespace 1 sorts first")
	assert.Equal(t, tcptable.EventStateChanged, events[1].Kind)
	assert.Equal(t, uint64(2), events[1].Key.NetNS)
}

// A test of code that reads a host with containers simulates endpoints in
// two network namespaces (hand-written rows with equal addresses in two
// namespaces work too: see Add).
func ExampleProvider_In() {
	p := mock.New()
	defer p.Close()
	for _, sc := range []mock.Scope{
		{NetNS: 4026532001, NetNSName: "blue", Container: "0123456789ab"},
		{NetNS: 4026532002, NetNSName: "green"},
	} {
		if _, err := p.In(sc).Listen("tcp4"); err != nil {
			fmt.Println(err)
		}
	}
	rows, _ := p.Table(context.Background(), tcptable.Query{})
	for _, c := range rows {
		fmt.Println(c.NetNSName, c.NetNS, c.State, c.Container != "")
	}
	// Output:
	// blue 4026532001 LISTEN true
	// green 4026532002 LISTEN false
}
