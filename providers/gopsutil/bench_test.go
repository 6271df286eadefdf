package gopsutil_test

import (
	"context"
	"errors"
	"net"
	"testing"

	gnet "github.com/shirou/gopsutil/v4/net"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
	"github.com/tcptable/tcptable/providers/gopsutil"
)

// benchPairs is how many loopback connections the benchmark adds to the
// live table: 2,000 rows and descriptors owned by the benchmark process.
const benchPairs = 1000

// openPairs adds n ESTABLISHED loopback pairs to the host's table and
// returns a function that closes them.
func openPairs(b *testing.B, n int) func() {
	b.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		testenv.SkipOrFail(b, "no IPv4 loopback: %v", err)
	}
	var conns []net.Conn
	closeAll := func() {
		ln.Close()
		for _, c := range conns {
			c.Close()
		}
	}
	for range n {
		c, err := net.Dial("tcp4", ln.Addr().String())
		if err != nil {
			closeAll()
			testenv.SkipOrFail(b, "opening %d loopback connections (raise ulimit -n?): %v", n, err)
		}
		s, err := ln.Accept()
		if err != nil {
			c.Close()
			closeAll()
			b.Fatal(err)
		}
		conns = append(conns, c, s)
	}
	return closeAll
}

// BenchmarkTable times Table on the live table plus 2,000 loopback rows:
// gopsutil's own cost (on Linux it reads /proc/net/tcp{,6} and every
// /proc/PID/fd) and this provider's mapping and owner resolution on top.
// It is the peer the Linux provider's benchmarks compare against.
func BenchmarkTable(b *testing.B) {
	p, err := gopsutil.New()
	if errors.Is(err, tcptable.ErrNotSupported) {
		testenv.SkipOrFail(b, "gopsutil lists no connections here: %v", err)
	}
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	defer openPairs(b, benchPairs)()
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		q    tcptable.Query
	}{
		{"all", tcptable.Query{}},
		{"pids", tcptable.Query{Owners: tcptable.OwnerPIDs}},
		{"no-owners", tcptable.Query{Owners: tcptable.OwnerNone}},
		{"listeners", tcptable.Query{Class: tcptable.ClassListeners}},
		{"ipv4-port", tcptable.Query{Family: tcptable.IPv4, LocalPort: 22}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			rows := 0
			for b.Loop() {
				conns, err := p.Table(ctx, bc.q)
				if err != nil {
					b.Fatal(err)
				}
				rows = len(conns)
			}
			b.ReportMetric(float64(rows), "rows")
		})
	}
	// gopsutil alone, without this provider's mapping and owner lookups:
	// the floor the rows above are measured against.
	b.Run("gopsutil-raw", func(b *testing.B) {
		b.ReportAllocs()
		rows := 0
		for b.Loop() {
			stats, err := gnet.ConnectionsWithContext(ctx, "tcp")
			if err != nil {
				testenv.SkipOrFail(b, "gopsutil: %v", err)
			}
			rows = len(stats)
		}
		b.ReportMetric(float64(rows), "rows")
	})
}
