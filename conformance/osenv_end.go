package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/tcptable/tcptable"
)

// OSEnv's pairs can be watched for their end.
var _ EndingPair = (*osPair)(nil)

// AwaitEnd reads the end at local until a read returns end of file or an
// error other than ctx's deadline: what the program holding that socket
// would see when the connection is reset, aborted or closed by the peer.
func (p *osPair) AwaitEnd(ctx context.Context, local netip.AddrPort) error {
	var c *net.TCPConn
	switch local {
	case p.cl:
		c = p.client
	case p.sv:
		c = p.server
	default:
		return fmt.Errorf("conformance: AwaitEnd(%v): not an end of the pair %v <-> %v: %w", local, p.cl, p.sv, tcptable.ErrInvalid)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		return fmt.Errorf("conformance: AwaitEnd(%v): %w", local, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetReadDeadline(time.Now()) })
	defer stop()
	var buf [512]byte
	for {
		_, err := c.Read(buf[:])
		switch {
		case err == nil:
			continue
		case errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() != nil:
			return fmt.Errorf("conformance: AwaitEnd(%v): the connection has not ended: %w", local, ctx.Err())
		case errors.Is(err, net.ErrClosed):
			return fmt.Errorf("conformance: AwaitEnd(%v): %w", local, err)
		}
		return nil // end of file, a reset, an abort
	}
}
