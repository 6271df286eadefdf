package windows

import (
	"encoding/binary"
	"net/netip"
	"time"
)

// testRow describes one row for the test encoder. The encoder writes the
// members at the offsets the issue documents (mingw-w64 offsetof, identical
// on 386 and amd64), as literal numbers, independent of the package's
// constants, so that a wrong constant cannot hide behind itself.
type testRow struct {
	state                 uint32
	local, remote         netip.Addr
	localPort, remotePort uint32 // the whole DWORD as the OS stores it, in host order of the DWORD
	localScope            uint32
	remoteScope           uint32
	pid                   uint32
	created               int64
	info                  [16]uint64
}

// portDWORD returns the DWORD the OS stores for port p with junk in the
// upper 16 bits: the low 16 bits hold p in network byte order.
func portDWORD(p uint16, junk uint16) uint32 {
	return uint32(junk)<<16 | uint32(p>>8) | uint32(p&0xff)<<8
}

// encodeTable builds a MIB_TCPTABLE_OWNER_MODULE (ipv6 false) or
// MIB_TCP6TABLE_OWNER_MODULE buffer holding rows, followed by slack bytes of
// 0xEE.
func encodeTable(ipv6 bool, slack int, rows ...testRow) []byte {
	size := 160
	if ipv6 {
		size = 192
	}
	b := make([]byte, 8+len(rows)*size+slack)
	le := binary.LittleEndian
	le.PutUint32(b, uint32(len(rows)))
	le.PutUint32(b[4:], 0xDDDDDDDD) // padding: never read
	for i, r := range rows {
		row := b[8+i*size:][:size]
		if !r.remote.IsValid() { // a zero remote address means "unspecified"
			r.remote = netip.IPv4Unspecified()
			if ipv6 {
				r.remote = netip.IPv6Unspecified()
			}
		}
		if ipv6 {
			l16, r16 := r.local.As16(), r.remote.As16()
			copy(row[0:16], l16[:])
			le.PutUint32(row[16:], r.localScope)
			le.PutUint32(row[20:], r.localPort)
			copy(row[24:40], r16[:])
			le.PutUint32(row[40:], r.remoteScope)
			le.PutUint32(row[44:], r.remotePort)
			le.PutUint32(row[48:], r.state)
			le.PutUint32(row[52:], r.pid)
			le.PutUint64(row[56:], uint64(r.created))
			putInfo(row[64:], r.info)
		} else {
			l4, r4 := r.local.As4(), r.remote.As4()
			le.PutUint32(row[0:], r.state)
			copy(row[4:8], l4[:])
			le.PutUint32(row[8:], r.localPort)
			copy(row[12:16], r4[:])
			le.PutUint32(row[16:], r.remotePort)
			le.PutUint32(row[20:], r.pid)
			le.PutUint64(row[24:], uint64(r.created))
			putInfo(row[32:], r.info)
		}
	}
	for i := len(b) - slack; i < len(b); i++ {
		b[i] = 0xEE
	}
	return b
}

func putInfo(b []byte, info [16]uint64) {
	for i, w := range info {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
}

// toFiletime converts t to a FILETIME, the inverse of filetimeToTime.
func toFiletime(t time.Time) int64 {
	return (t.Unix()+11644473600)*1e7 + int64(t.Nanosecond()/100)
}
