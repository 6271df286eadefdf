package linux

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/tcptable/tcptable"
)

// benchDump returns n sock_diag messages in datagrams as the kernel sends
// them (about 32 KiB each), with tcp_info when info is set.
func benchDump(n int, info bool) [][]byte {
	var out [][]byte
	var cur []byte
	for i := range n {
		r := fixtureRows[1]
		if info {
			r = fixtureRows[3]
			r.Info = tcpInfoFixture(280) // as long as Linux 6.18's
		}
		r.SPort, r.Inode = uint16(i), uint32(i+1)
		cur = append(cur, nlMsg(sockDiagByFamily, nlmFMulti, 1, diagMsg(r))...)
		if len(cur) > 32<<10-600 {
			out = append(out, cur)
			cur = nil
		}
	}
	return append(out, append(cur, nlMsg(nlmsgDone, nlmFMulti, 1, []byte{0, 0, 0, 0})...))
}

// BenchmarkParseDiag decodes 20,000 rows into Connections, without and
// with tcp_info (Stats from one slab, as Table does).
func BenchmarkParseDiag(b *testing.B) {
	const n = 20000
	for _, info := range []bool{false, true} {
		name := "plain"
		if info {
			name = "stats"
		}
		b.Run(name, func(b *testing.B) {
			dgrams := benchDump(n, info)
			var row diagRow
			b.ReportAllocs()
			for b.Loop() {
				var slab *statsSlab
				if info {
					slab = newStatsSlab(make([]tcptable.Stats, n))
				}
				rows := 0
				for _, d := range dgrams {
					if _, err := parseDiagInto(d, 1, &row, func(r *diagRow) {
						if c, ok := connFromRow(r, numericZone); ok {
							slab.fill(&c, r)
							rows++
						}
					}); err != nil {
						b.Fatal(err)
					}
				}
				if rows != n {
					b.Fatalf("%d rows, want %d", rows, n)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/row")
		})
	}
}

func BenchmarkParseProcNet(b *testing.B) {
	const n = 20000
	var buf bytes.Buffer
	buf.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := range n {
		a := netip.AddrFrom4([4]byte{127, 0, byte(i >> 8), byte(i)}).As4()
		fmt.Fprintf(&buf, "%4d: %02X%02X%02X%02X:%04X 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 %d 1 0000000000000000 20 4 30 10 -1\n",
			i, a[3], a[2], a[1], a[0], i, 100000+i)
	}
	data := buf.Bytes()
	b.ReportAllocs()
	for b.Loop() {
		rows := 0
		if err := parseProcNet(bytes.NewReader(data), afInet, func(*diagRow) { rows++ }); err != nil {
			b.Fatal(err)
		}
		if rows != n {
			b.Fatalf("%d rows, want %d", rows, n)
		}
	}
}
