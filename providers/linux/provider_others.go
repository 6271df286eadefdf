//go:build !linux

package linux

import (
	"context"
	"fmt"
	"runtime"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/internal/option"
)

// Provider reads the Linux TCP table; on this OS it cannot be created.
type Provider struct{}

var _ tcptable.ReusingProvider = (*Provider)(nil)

// New returns an error wrapping tcptable.ErrNotSupported: the Linux
// provider needs Linux. Invalid options are reported first, as on Linux.
func New(opts ...Option) (*Provider, error) {
	cfg := defaultConfig()
	if err := option.Apply(&cfg, opts); err != nil {
		return nil, fmt.Errorf("tcptable/linux: New: %w", err)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("tcptable/linux: New: %w", err)
	}
	return nil, fmt.Errorf("tcptable/linux: New on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}

// Source reports SourceAuto: no source is in use.
func (p *Provider) Source() Source { return SourceAuto }

// OwnerScan reports OwnerScanAuto: no scan is in use.
func (p *Provider) OwnerScan() OwnerScan { return OwnerScanAuto }

// Table returns an error wrapping tcptable.ErrNotSupported.
func (p *Provider) Table(ctx context.Context, q tcptable.Query) ([]tcptable.Connection, error) {
	return nil, fmt.Errorf("tcptable/linux: Table on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}

// TableInto returns an error wrapping tcptable.ErrNotSupported.
func (p *Provider) TableInto(ctx context.Context, q tcptable.Query, buf []tcptable.Connection) ([]tcptable.Connection, error) {
	return p.Table(ctx, q)
}

// NetNamespaces returns nil: no table was read.
func (p *Provider) NetNamespaces() []NetNS { return nil }

// Close does nothing.
func (p *Provider) Close() error { return nil }

// Trace returns an error wrapping tcptable.ErrNotSupported.
func (p *Provider) Trace(ctx context.Context, q tcptable.Query, fn func(tcptable.Event) error) error {
	return fmt.Errorf("tcptable/linux: Trace on %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}

// TraceSource reports TracePoll and why: no kernel source on this OS.
func (p *Provider) TraceSource() (TraceSource, error) {
	return TracePoll, fmt.Errorf("tcptable/linux: %s: %w", runtime.GOOS, tcptable.ErrNotSupported)
}
