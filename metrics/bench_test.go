package metrics_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
	"github.com/tcptable/tcptable/providers/mock"
)

// benchRows is a busy host of n rows: 200 processes (a few own most rows),
// one listener per 100 rows, a tenth TIME-WAIT, every connected row with
// byte counters, IPv4 and IPv6.
func benchRows(n int) []tcptable.Connection {
	rows := make([]tcptable.Connection, n)
	for i := range rows {
		c := &rows[i]
		a4 := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		local := netip.AddrPortFrom(netip.AddrFrom4(a4), uint16(1024+i%60000))
		if i%3 == 0 {
			local = netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 13: byte(i >> 16), 14: byte(i >> 8), 15: byte(i)}), local.Port())
		}
		c.Local = local
		c.Socket = uint64(i + 1)
		proc := i % 200
		if i%4 != 0 {
			proc = i % 5 // the busy few
		}
		switch {
		case i%100 == 0:
			c.State = tcptable.StateListen
			if local.Addr().Is4() {
				c.Remote = netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
			} else {
				c.Remote = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
			}
		case i%10 == 1:
			c.State = tcptable.StateTimeWait
			c.Remote = netip.AddrPortFrom(local.Addr(), 443)
			c.OwnerStatus, c.ModuleStatus = tcptable.OwnerKernel, tcptable.OwnerKernel
			c.Socket = 0
			continue
		default:
			c.State = tcptable.StateEstablished
			c.Remote = netip.AddrPortFrom(local.Addr(), 443)
			c.Stats = &tcptable.Stats{BytesSent: uint64(i) * 10, BytesReceived: uint64(i) * 30}
			c.StatsStatus = tcptable.StatsOK
		}
		c.PID = uint32(1000 + proc)
		c.Module = tcptable.Module{Name: fmt.Sprintf("proc-%d", proc)}
		c.OwnerStatus, c.ModuleStatus = tcptable.OwnerOK, tcptable.OwnerOK
	}
	return rows
}

// static answers the same rows every time without copying them, so that
// the benchmark measures the collector alone.
type static []tcptable.Connection

func (s static) Table(context.Context, tcptable.Query) ([]tcptable.Connection, error) { return s, nil }
func (static) Close() error                                                           { return nil }

// BenchmarkCollect is one scrape (table read, reduction, byte deltas and
// the series sent) at realistic sizes: "mock" includes the mock's deep
// copy of every row, "collector" answers a prebuilt table.
func BenchmarkCollect(b *testing.B) {
	for _, n := range []int{20_000, 200_000} {
		rows := benchRows(n)
		for _, src := range []string{"mock", "collector"} {
			b.Run(fmt.Sprintf("%s/rows=%d", src, n), func(b *testing.B) {
				var p tcptable.Provider = static(rows)
				if src == "mock" {
					p = mock.New(rows...)
				}
				c := metrics.NewCollector(p)
				defer c.Close()
				ch := make(chan prometheus.Metric, 1024)
				drain := make(chan int)
				go func() {
					n := 0
					for range ch {
						n++
					}
					drain <- n
				}()
				c.Collect(ch) // the baseline read
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					c.Collect(ch)
				}
				b.StopTimer()
				close(ch)
				<-drain
			})
		}
	}
}
