//go:build !windows

package windows

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
)

// Provider reads the TCP table with GetExtendedTcpTable. On this OS it
// cannot be made: New returns an error and Provider's methods report
// tcptable.ErrNotSupported.
type Provider struct{}

// New returns an error wrapping tcptable.ErrNotSupported: GetExtendedTcpTable
// exists only on Windows. ParseTable works on every OS.
func New(opts ...Option) (*Provider, error) {
	if _, err := apply(opts); err != nil {
		return nil, fmt.Errorf("tcptable/windows: New: %w", err)
	}
	return nil, errNotWindows("New")
}

// Table reports tcptable.ErrNotSupported.
func (*Provider) Table(context.Context, tcptable.Query) ([]tcptable.Connection, error) {
	return nil, errNotWindows("Table")
}

// Kill reports tcptable.ErrNotSupported.
func (*Provider) Kill(context.Context, tcptable.Connection) error {
	return errNotWindows("Kill")
}

// Close does nothing.
func (*Provider) Close() error { return nil }

func errNotWindows(op string) error {
	return fmt.Errorf("tcptable/windows: %s on %s: %w (GetExtendedTcpTable exists only on Windows)", op, runtime.GOOS, tcptable.ErrNotSupported)
}

var (
	_ tcptable.Provider = (*Provider)(nil)
	_ tcptable.Killer   = (*Provider)(nil)
)
