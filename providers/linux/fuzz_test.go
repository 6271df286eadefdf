package linux

import (
	"bytes"
	"testing"
)

// FuzzParseDiag feeds arbitrary datagrams to the sock_diag decoder: it
// must never panic, and every row it accepts must convert.
func FuzzParseDiag(f *testing.F) {
	f.Add(fixtureDump(1))
	f.Add(nlMsg(nlmsgError, 0, 1, errPayload(-1)))
	f.Add(nlMsg(sockDiagByFamily, nlmFMulti|nlmFDumpIntr, 1, diagMsg(fixtureRows[2])))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseDiag(b, 1, func(r *diagRow) {
			c, ok := connFromRow(r, numericZone)
			if ok && !c.Local.IsValid() {
				t.Fatalf("row %+v converted to an invalid local address", r)
			}
		})
	})
}

// FuzzParseProcNet feeds arbitrary text to the /proc/net/tcp parser.
func FuzzParseProcNet(f *testing.F) {
	f.Add([]byte("   0: 0100007F:1235 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 68565 1\n"), false)
	f.Add([]byte("  11: 00000000000000000000000001000000:1234 00000000000000000000000001000000:B8EE 01 00000000:00000000 00:00000000 00000000     0        0 68564 1\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, v6 bool) {
		fam := uint8(afInet)
		if v6 {
			fam = afInet6
		}
		_ = parseProcNet(bytes.NewReader(b), fam, func(r *diagRow) {
			if r.Family != fam {
				t.Fatalf("family %d, want %d", r.Family, fam)
			}
			_, _ = connFromRow(r, numericZone)
		})
	})
}
