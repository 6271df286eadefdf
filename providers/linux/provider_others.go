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

// Close does nothing.
func (p *Provider) Close() error { return nil }
