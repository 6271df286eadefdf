package linux

import (
	"bytes"
	"testing"

	"github.com/tcptable/tcptable"
)

// FuzzParseDiag feeds arbitrary datagrams to the sock_diag decoder: it
// must never panic, and every row it accepts must convert.
func FuzzParseDiag(f *testing.F) {
	f.Add(fixtureDump(1))
	f.Add(nlMsg(nlmsgError, 0, 1, errPayload(-1)))
	f.Add(nlMsg(sockDiagByFamily, nlmFMulti|nlmFDumpIntr, 1, diagMsg(fixtureRows[2])))
	f.Add(nlMsg(sockDiagByFamily, nlmFMulti, 1, diagMsg(fixtureRows[3])))
	f.Fuzz(func(t *testing.T, b []byte) {
		slab := newStatsSlab(nil)
		_, _ = parseDiag(b, 1, func(r *diagRow) {
			c, ok := connFromRow(r, numericZone)
			if ok && !c.Local.IsValid() {
				t.Fatalf("row %+v converted to an invalid local address", r)
			}
			slab.fill(&c, r)
			if (c.Stats != nil) != (r.Info != nil) {
				t.Fatalf("row with tcp_info %v has Stats %v", r.Info != nil, c.Stats)
			}
		})
	})
}

// FuzzDecodeTCPInfo feeds arbitrary tcp_info structs to the decoder: a
// short struct must decode as if the missing members were zero, and what
// follows Linux 4.19's members must change nothing.
func FuzzDecodeTCPInfo(f *testing.F) {
	f.Add(tcpInfoFixture(tcpInfoLen419), uint32(7), uint32(3000), false)
	f.Add(tcpInfoFixture(104), uint32(0), uint32(0), true)
	f.Add(tcpInfoFixture(tcpInfoLen419+56), uint32(1), uint32(2), false)
	f.Fuzz(func(t *testing.T, b []byte, rq, wq uint32, listen bool) {
		var got, padded tcptable.Stats
		decodeTCPInfo(b, rq, wq, listen, &got)
		full := make([]byte, max(len(b), tcpInfoLen419))
		copy(full, b)
		decodeTCPInfo(full[:tcpInfoLen419], rq, wq, listen, &padded)
		if got != padded {
			t.Fatalf("%d bytes decode to %+v, the same zero-padded (or cut) to %d bytes to %+v", len(b), got, tcpInfoLen419, padded)
		}
		if got.RTT < 0 || got.BusyTime < 0 || got.ReceiveWindowLimited < 0 || got.SendBufferLimited < 0 {
			t.Fatalf("negative duration in %+v", got)
		}
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
