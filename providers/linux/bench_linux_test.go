package linux_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// BenchmarkTable times Table on a namespace holding 20,000 ESTABLISHED
// sockets in four processes (needs root; cmd/tcptable-bench compares with
// ss and gopsutil at larger sizes). Cases without "procfs" use the
// default owner scan, the BPF one as root; "-stats" cases set Query.Stats
// (tcp_info), to compare with the same case without.
func BenchmarkTable(b *testing.B) {
	ns := netnstest.NewForTest(b, "tcptable-bench-table")
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for range 4 {
		c, err := netnstest.Start(ns, exe, netnstest.Spec{Established: 2500}, false, time.Minute)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
	}
	ctx := context.Background()
	procfs := linux.WithOwnerScan(linux.OwnerScanProcfs) // the default is the BPF scan as root
	for _, cold := range []struct {
		name string
		opts []linux.Option
	}{{"all-cold", nil}, {"all-cold-procfs", []linux.Option{procfs}}} {
		b.Run(cold.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, err := linux.New(append(cold.opts, linux.WithNetNS(ns.Path))...)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := p.Table(ctx, tcptable.Query{}); err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
	for _, bc := range []struct {
		name string
		q    tcptable.Query
		opts []linux.Option
	}{
		{"all", tcptable.Query{}, nil},
		{"all-stats", tcptable.Query{Stats: true}, nil},
		{"all-nocache", tcptable.Query{}, []linux.Option{linux.WithoutOwnerCache()}},
		{"all-nocache-procfs", tcptable.Query{}, []linux.Option{linux.WithoutOwnerCache(), procfs}},
		{"pids", tcptable.Query{Owners: tcptable.OwnerPIDs}, nil},
		{"no-owners", tcptable.Query{Owners: tcptable.OwnerNone}, nil},
		{"no-owners-stats", tcptable.Query{Owners: tcptable.OwnerNone, Stats: true}, nil},
		{"listeners", tcptable.Query{Class: tcptable.ClassListeners}, nil},
		{"listeners-procfs", tcptable.Query{Class: tcptable.ClassListeners}, []linux.Option{procfs}},
		{"listeners-first-owner-procfs", tcptable.Query{Class: tcptable.ClassListeners}, []linux.Option{linux.WithFirstOwnerOnly(), procfs}},
		{"procnet-no-owners", tcptable.Query{Owners: tcptable.OwnerNone}, []linux.Option{linux.WithSource(linux.SourceProcNet)}},
	} {
		for _, into := range []bool{false, true} {
			name := bc.name
			if into {
				if bc.name != "all" {
					continue
				}
				name = "all-into" // TableInto with the previous answer
			}
			b.Run(name, func(b *testing.B) {
				p, err := linux.New(append(bc.opts, linux.WithNetNS(ns.Path))...)
				if err != nil {
					b.Fatal(err)
				}
				defer p.Close()
				b.ReportAllocs()
				var rows []tcptable.Connection
				for b.Loop() {
					var buf []tcptable.Connection
					if into {
						buf = rows
					}
					if rows, err = p.TableInto(ctx, bc.q, buf); err != nil {
						b.Fatal(err)
					}
					if len(rows) == 0 {
						b.Fatal("no rows")
					}
				}
			})
		}
	}
}
