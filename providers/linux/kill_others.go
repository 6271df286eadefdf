//go:build !linux

package linux

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

var _ tcptable.Killer = (*Provider)(nil)

// Kill returns an error wrapping tcptable.ErrNotSupported.
func (p *Provider) Kill(ctx context.Context, c tcptable.Connection) error {
	return fmt.Errorf("tcptable/linux: Kill on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}
