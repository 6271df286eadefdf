package conformance_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

// testAwaitEnd checks an Env's EndingPair: a live connection does not end
// (AwaitEnd gives up with its context), the server end sees the client's
// FIN, an unknown address is
// invalid, and a pair whose sockets are closed says so.
func testAwaitEnd(t *testing.T, env conformance.Env) {
	t.Helper()
	p, err := env.Dial("tcp4")
	require.NoError(t, err)
	defer p.Close()
	ep, ok := p.(conformance.EndingPair)
	require.True(t, ok, "%T is no EndingPair", p)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	err = ep.AwaitEnd(ctx, p.Client())
	cancel()
	require.ErrorIs(t, err, context.DeadlineExceeded, "a live connection has not ended")
	assert.ErrorIs(t, ep.AwaitEnd(context.Background(), netip.MustParseAddrPort("127.0.0.1:9")), tcptable.ErrInvalid)

	require.NoError(t, p.CloseWrite())
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, ep.AwaitEnd(ctx, p.Server()), "the server reads the client's FIN")
	require.NoError(t, p.CloseActive())
	assert.ErrorIs(t, ep.AwaitEnd(ctx, p.Client()), net.ErrClosed, "CloseActive closed the sockets")

	q, err := env.Dial("tcp6")
	if errors.Is(err, tcptable.ErrNotSupported) {
		q, err = env.Dial("tcp4")
	}
	require.NoError(t, err)
	require.NoError(t, q.Close())
	assert.ErrorIs(t, q.(conformance.EndingPair).AwaitEnd(ctx, q.Server()), net.ErrClosed)
}

func TestOSEnvAwaitEnd(t *testing.T) { testAwaitEnd(t, conformance.OSEnv()) }

func TestMockAwaitEnd(t *testing.T) { testAwaitEnd(t, mock.New()) }
