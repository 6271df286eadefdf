//go:build !linux

package gopsutil

import (
	"context"

	"github.com/shirou/gopsutil/v4/net"
)

// listConnections lists rows with gopsutil's plain calls: outside Linux its
// WithoutUids variants are not implemented, and no UIDs are looked up.
func listConnections(ctx context.Context, kind string, pid int32) ([]net.ConnectionStat, error) {
	if pid != 0 {
		return net.ConnectionsPidWithContext(ctx, kind, pid)
	}
	return net.ConnectionsWithContext(ctx, kind)
}
