//go:build linux

package gopsutil

import (
	"context"

	"github.com/shirou/gopsutil/v4/net"
)

// listConnections lists rows without gopsutil's per-row UID lookup (one
// /proc/PID/status read per row); the provider takes UIDs from its
// per-process cache instead.
func listConnections(ctx context.Context, kind string, pid int32) ([]net.ConnectionStat, error) {
	if pid != 0 {
		return net.ConnectionsPidWithoutUidsWithContext(ctx, kind, pid)
	}
	return net.ConnectionsWithoutUidsWithContext(ctx, kind)
}
