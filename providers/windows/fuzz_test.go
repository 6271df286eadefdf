package windows

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/tcptable/tcptable"
)

// FuzzParseTable feeds arbitrary buffers to ParseTable. It must never panic,
// what decodeTable accepts must agree with dwNumEntries and the row layout,
// and ParseTable must return naiveDedupe of that. The
// seed corpus in testdata/fuzz/FuzzParseTable holds real-shaped tables of
// both families, empty ones, truncated ones and absurd counts.
func FuzzParseTable(f *testing.F) {
	row4 := testRow{state: 5, local: lo4, localPort: portDWORD(0x1234, 0xFFFF), remote: peer4,
		remotePort: portDWORD(443, 0), pid: 4, created: toFiletime(when), info: [16]uint64{1}}
	row6 := testRow{state: 2, local: ll6, localScope: 3, localPort: portDWORD(80, 0), remote: glob6, pid: 8}
	f.Add(encodeTable(false, 0, row4, row4), false)
	row4b := row4
	row4b.localPort = portDWORD(0x1235, 0)
	f.Add(encodeTable(false, 0, row4, row4b, row4), false)
	f.Add(encodeTable(true, 7, row6), true)
	f.Fuzz(func(t *testing.T, b []byte, ipv6 bool) {
		fam, size := tcptable.IPv4, 160
		if ipv6 {
			fam, size = tcptable.IPv6, 192
		}
		parsed, err := ParseTable(b, fam)
		rows, rawErr := decodeTable(nil, b, fam)
		if (err == nil) != (rawErr == nil) {
			t.Fatalf("ParseTable: %v; decodeTable: %v", err, rawErr)
		}
		if err != nil {
			if parsed != nil || rows != nil {
				t.Fatalf("rows %v returned with error %v", parsed, err)
			}
			return
		}
		if want := naiveDedupe(rows); !slices.EqualFunc(want, parsed, func(a, b tcptable.Connection) bool {
			return a.Key() == b.Key() && a.State == b.State && a.PID == b.PID &&
				(a.OwningModuleInfo == nil) == (b.OwningModuleInfo == nil) && (a.OwningModuleInfo == nil || *a.OwningModuleInfo == *b.OwningModuleInfo)
		}) {
			t.Fatalf("ParseTable %v, want %v", parsed, want)
		}
		if len(b) < 4 {
			t.Fatalf("accepted a %d-byte buffer", len(b))
		}
		n := int(binary.LittleEndian.Uint32(b))
		if len(rows) != n || (n > 0 && len(b) < 8+n*size) {
			t.Fatalf("dwNumEntries %d, buffer %d bytes: got %d rows", n, len(b), len(rows))
		}
		for i := range rows {
			c := &rows[i]
			if c.Family() != fam && !(ipv6 && c.Local.Addr().Is4In6()) {
				t.Fatalf("row %d: family %v in a %v table", i, c.Family(), fam)
			}
			row := b[8+i*size:][:size]
			if nonzero := !allZero(row[size-128:]); nonzero != (c.OwningModuleInfo != nil) {
				t.Fatalf("row %d: OwningModuleInfo %v for nonzero=%v", i, c.OwningModuleInfo, nonzero)
			}
			if c.OwningModuleInfo != nil && binary.LittleEndian.Uint64(row[size-8:]) != c.OwningModuleInfo[15] {
				t.Fatalf("row %d: OwningModuleInfo[15] %#x differs from the buffer", i, c.OwningModuleInfo[15])
			}
			if (c.PID == 0) != (c.OwnerStatus == tcptable.OwnerKernel) {
				t.Fatalf("row %d: PID %d with owner status %v", i, c.PID, c.OwnerStatus)
			}
		}
	})
}
