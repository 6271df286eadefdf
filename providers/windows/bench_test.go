package windows

import (
	"testing"

	"github.com/tcptable/tcptable"
)

// benchRows is the size of a busy server's table.
const benchRows = 10000

// benchTable builds a table of benchRows established rows with distinct
// ports, timestamps and, as on real Windows, non-zero module info.
func benchTable(ipv6 bool) []byte {
	rows := make([]testRow, benchRows)
	local, remote := lo4, peer4
	if ipv6 {
		local, remote = lo6, glob6
	}
	for i := range rows {
		rows[i] = testRow{state: 5, local: local, localPort: portDWORD(uint16(1024+i), 0), remote: remote,
			remotePort: portDWORD(443, 0), pid: uint32(1000 + i%50), created: toFiletime(when) + int64(i),
			info: [16]uint64{uint64(i + 1)}}
	}
	return encodeTable(ipv6, 0, rows...)
}

func benchmarkAppendTable(b *testing.B, ipv6 bool) {
	fam := tcptable.IPv4
	if ipv6 {
		fam = tcptable.IPv6
	}
	buf := benchTable(ipv6)
	dst := make([]tcptable.Connection, 0, benchRows)
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	b.ResetTimer()
	for b.Loop() {
		var err error
		if dst, err = AppendTable(dst[:0], buf, fam); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkAppendTable4 decodes a 10k-row IPv4 table into a reused slice.
func BenchmarkAppendTable4(b *testing.B) { benchmarkAppendTable(b, false) }

// BenchmarkAppendTable6 decodes a 10k-row IPv6 table into a reused slice.
func BenchmarkAppendTable6(b *testing.B) { benchmarkAppendTable(b, true) }

// BenchmarkParseTable4 decodes a 10k-row IPv4 table into a fresh slice.
func BenchmarkParseTable4(b *testing.B) {
	buf := benchTable(false)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseTable(buf, tcptable.IPv4); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDedupe finds duplicates in a decoded 10k-row table with a
// reused deduper, as the provider does on every poll.
func BenchmarkDedupe(b *testing.B) {
	rows, err := decodeTable(nil, benchTable(false), tcptable.IPv4)
	if err != nil {
		b.Fatal(err)
	}
	d := newDeduper()
	b.ReportAllocs()
	for b.Loop() {
		if got := d.dedupe(rows, nil); len(got) != benchRows {
			b.Fatalf("%d rows", len(got))
		}
	}
	b.ReportMetric(float64(b.N)*benchRows/b.Elapsed().Seconds(), "rows/s")
}
