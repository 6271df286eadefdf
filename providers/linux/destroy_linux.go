package linux

import (
	"context"
	"fmt"

	"github.com/tcptable/tcptable"
)

// destroyAllowed reports why the sock_diag destroy groups cannot be
// joined here, or nil.
func destroyAllowed() error {
	return fmt.Errorf("not implemented yet: %w", tcptable.ErrNotSupported)
}

// traceDestroy is Trace from the sock_diag destroy groups.
func (p *Provider) traceDestroy(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return fmt.Errorf("tcptable/linux: Trace: %w", tcptable.ErrNotSupported)
}
