package mock_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// endKeys returns the Keys of the rows of p.
func endKeys(p *mock.Provider) []tcptable.Key {
	var out []tcptable.Key
	for _, c := range p.Rows() {
		out = append(out, c.Key())
	}
	return out
}

func TestKill(t *testing.T) {
	ctx := context.Background()
	p := mock.New()
	ln, err := p.Listen("tcp4")
	require.NoError(t, err)
	pr, err := p.Dial("tcp6")
	require.NoError(t, err)
	other, err := p.Dial("tcp4")
	require.NoError(t, err)
	rows := p.Rows()
	require.Len(t, rows, 5)
	client := tcptable.Key{Local: pr.Client(), Remote: pr.Server()}
	server := tcptable.Key{Local: pr.Server(), Remote: pr.Client()}

	// A row of a pair: both ends go (the peer is reset) and see the end.
	row := rows[1]
	require.Equal(t, client, row.Key())
	require.NoError(t, p.Kill(ctx, row))
	assert.NotContains(t, endKeys(p), client)
	assert.NotContains(t, endKeys(p), server)
	ep := pr.(conformance.EndingPair)
	require.NoError(t, ep.AwaitEnd(ctx, pr.Client()))
	require.NoError(t, ep.AwaitEnd(ctx, pr.Server()))
	oe := other.(conformance.EndingPair)
	dead, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, oe.AwaitEnd(dead, other.Client()), context.Canceled, "the other pair lives on")

	// A listener.
	lrow := rows[0]
	require.Equal(t, ln.Addr(), lrow.Local)
	require.NoError(t, p.Kill(ctx, lrow))
	assert.Len(t, p.Rows(), 2, "the other pair's rows")
	require.NoError(t, ln.Close(), "closing a killed listener is not an error")

	// Again: not found.
	assert.ErrorIs(t, p.Kill(ctx, row), tcptable.ErrNotFound)
	// A listener written without Remote or Socket, as Add completes it.
	p.Add(tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort("0.0.0.0:80"), PID: 9})
	require.NoError(t, p.Kill(ctx, tcptable.Connection{State: tcptable.StateListen, Local: netip.MustParseAddrPort("0.0.0.0:80"), PID: 9}))

	calls := p.Kills()
	require.Len(t, calls, 4)
	assert.Equal(t, row.Key(), calls[0].Conn.Key())
	assert.NoError(t, calls[0].Err)
	assert.ErrorIs(t, calls[2].Err, tcptable.ErrNotFound)

	require.NoError(t, p.Close())
	assert.ErrorIs(t, p.Kill(ctx, rows[3]), tcptable.ErrClosed)
}

func TestKillFaults(t *testing.T) {
	ctx := context.Background()
	p := mock.New()
	pr, err := p.Dial("tcp4")
	require.NoError(t, err)
	row := p.Rows()[0]
	boom := errors.New("boom")
	p.FaultKillNext(mock.KillFault{Err: boom}, mock.KillFault{Keep: true}, mock.KillFault{})

	dead, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, p.Kill(dead, row), context.Canceled, "an ended context uses no fault up")
	require.Equal(t, boom, p.Kill(ctx, row), "the fault's error, as it is")
	require.NoError(t, p.Kill(ctx, row), "Keep: success reported...")
	assert.Len(t, p.Rows(), 2, "...and nothing ended")
	short, cancel := context.WithTimeout(ctx, 0)
	defer cancel()
	assert.ErrorIs(t, pr.(conformance.EndingPair).AwaitEnd(short, pr.Server()), context.DeadlineExceeded)
	require.NoError(t, p.Kill(ctx, row), "a zero fault: a normal kill")
	assert.Empty(t, p.Rows())
	assert.Len(t, p.Kills(), 4)
}

// A downstream unit test checks that its code ends the right connection,
// and how it copes when the OS refuses.
func ExampleProvider_Kill() {
	ctx := context.Background()
	p := mock.New(
		tcptable.Connection{State: tcptable.StateEstablished, PID: 7,
			Local: netip.MustParseAddrPort("10.0.0.5:22"), Remote: netip.MustParseAddrPort("10.0.0.9:51000")},
		tcptable.Connection{State: tcptable.StateEstablished, PID: 8,
			Local: netip.MustParseAddrPort("10.0.0.5:22"), Remote: netip.MustParseAddrPort("10.0.0.7:40000")},
	)
	defer p.Close()
	p.FaultKillNext(mock.KillFault{}, mock.KillFault{Err: fmt.Errorf("test: %w", tcptable.ErrPermission)})

	for _, c := range p.Rows() {
		err := p.Kill(ctx, c)
		fmt.Println(c.Remote, err, errors.Is(err, tcptable.ErrPermission))
	}
	fmt.Println(len(p.Rows()), "left;", len(p.Kills()), "calls")
	// Output:
	// 10.0.0.9:51000 <nil> false
	// 10.0.0.7:40000 test: permission denied true
	// 1 left; 2 calls
}
