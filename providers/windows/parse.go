package windows

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tcptable/tcptable"
)

// maxRows is the most rows a table may claim before its count is called
// absurd rather than merely too big for the buffer: 16 Mi rows would be
// 2.5 GiB of MIB_TCPROW_OWNER_MODULE, far beyond any real host.
const maxRows = 1 << 24

// ParseTable decodes a raw MIB_TCPTABLE_OWNER_MODULE (f == tcptable.IPv4) or
// MIB_TCP6TABLE_OWNER_MODULE (f == tcptable.IPv6) buffer, exactly as
// GetExtendedTcpTable fills it with TCP_TABLE_OWNER_MODULE_ALL (or _LISTENER,
// _CONNECTIONS).
//
// The buffer is read at the fixed offsets docs/windows.md lists, which are the
// same on 386, amd64 and arm64; it may be longer than the rows (slack is
// normal: callers allocate more than they are told to). A buffer too short
// for its header, or whose dwNumEntries does not fit in it, is an error
// wrapping tcptable.ErrInvalid that says so; ParseTable never panics and
// never allocates more than the buffer can describe.
//
// Each row is decoded losslessly:
//
//   - OSState is dwState as stored; State is the same value (the State
//     values are the MIB_TCP_STATE values), kept even when it is not one of
//     the twelve known states, and 0 when it does not fit in a State.
//   - Local and Remote: the address bytes as stored; the port is the low 16
//     bits of the port DWORD in network byte order (the upper bits are
//     ignored, as the OS leaves garbage there). An IPv6 scope id becomes the
//     address' zone (its decimal interface index) only for link-local
//     addresses, where it is an interface index; on other addresses it is
//     dropped, since Windows stores 0 there and Wine stores values that are
//     not interface indexes. A listener's Remote is the unspecified address
//     of its family with port 0, whatever the (meaningless) remote members
//     hold.
//   - PID is dwOwningPid. OwnerStatus is OwnerOK for a non-zero PID and
//     OwnerKernel for PID 0 (the Idle process: TIME-WAIT rows and the like);
//     ModuleStatus is OwnerKernel for PID 0 and OwnerUnknown otherwise, for
//     the provider to resolve.
//   - Created is liCreateTimestamp, a FILETIME, as a UTC time; 0 gives the
//     zero Time.
//   - OwningModuleInfo points to a copy of the 16 ULONGLONGs when any of them
//     is non-zero, and is nil when all are zero: nil and sixteen zeros carry
//     the same information, and the nil saves a row 128 bytes. The copies of
//     one call share one allocation.
//
// No two rows returned share a tcptable.Key. Windows never lists a socket
// twice, but Wine builds the table from non-atomic reads of Linux's
// /proc/net/tcp and tcp6, which list a socket twice when it moves in the
// kernel's hash table during the read. Of the rows with one Key the last
// (the more recent report) is kept, in the place of the first; the rows
// come back otherwise in buffer order.
func ParseTable(b []byte, f tcptable.Family) ([]tcptable.Connection, error) {
	return AppendTable(nil, b, f)
}

// AppendTable is ParseTable appending to dst, for callers that poll and want
// to reuse one slice: with dst of enough capacity it allocates only for
// non-zero OwningModuleInfo members, link-local zones and, in tables of
// more than 256 rows, the index that finds duplicate rows. On error it
// returns dst unchanged.
func AppendTable(dst []tcptable.Connection, b []byte, f tcptable.Family) ([]tcptable.Connection, error) {
	d := newDeduper()
	start := len(dst)
	out, err := decodeTable(dst, b, f)
	if err != nil {
		return dst, fmt.Errorf("tcptable/windows: %w", err)
	}
	kept := d.dedupe(out[start:], nil)
	return out[:start+len(kept)], nil
}

// decodeTable is AppendTable without the removal of duplicate rows (the
// i-th appended row is the buffer's i-th row) and whose errors carry no
// package prefix.
func decodeTable(dst []tcptable.Connection, b []byte, f tcptable.Family) ([]tcptable.Connection, error) {
	l, ok := layoutOf(f)
	if !ok {
		return dst, fmt.Errorf("%w: family %v: a TCP table is either IPv4 or IPv6", tcptable.ErrInvalid, f)
	}
	n, err := rowCount(b, &l)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	var infos [][moduleInfoWords]uint64 // one slab for the call, made on first need
	for i := range n {
		row := b[tableHeaderSize+i*l.size:][:l.size]
		dst = append(dst, tcptable.Connection{})
		c := &dst[len(dst)-1]
		decodeRow(c, row, &l)
		if info := row[l.moduleInfo:][:8*moduleInfoWords]; !allZero(info) {
			if infos == nil {
				infos = make([][moduleInfoWords]uint64, 0, n-i) // never grows: pointers stay valid
			}
			infos = infos[:len(infos)+1]
			c.OwningModuleInfo = &infos[len(infos)-1]
			decodeModuleInfo(c.OwningModuleInfo, info)
		}
	}
	return dst, nil
}

// rowCount returns dwNumEntries after checking that so many rows fit in b.
func rowCount(b []byte, l *rowLayout) (int, error) {
	if len(b) < 4 {
		return 0, fmt.Errorf("%w: %s: buffer of %d bytes is too short for dwNumEntries (4 bytes)",
			tcptable.ErrInvalid, l.name, len(b))
	}
	count := binary.LittleEndian.Uint32(b)
	if count == 0 {
		return 0, nil
	}
	if count > maxRows {
		return 0, fmt.Errorf("%w: %s: dwNumEntries %d is absurd (more than %d rows); buffer holds %d bytes",
			tcptable.ErrInvalid, l.name, count, maxRows, len(b))
	}
	need := uint64(tableHeaderSize) + uint64(count)*uint64(l.size)
	if need > uint64(len(b)) {
		return 0, fmt.Errorf("%w: %s: dwNumEntries %d needs %d bytes (%d-byte header + %d-byte rows) but the buffer holds %d",
			tcptable.ErrInvalid, l.name, count, need, tableHeaderSize, l.size, len(b))
	}
	return int(count), nil
}

// decodeRow decodes one row (len(row) == l.size) except OwningModuleInfo
// into the zero Connection c.
func decodeRow(c *tcptable.Connection, row []byte, l *rowLayout) {
	le := binary.LittleEndian
	c.OSState = le.Uint32(row[l.state:])
	c.PID = le.Uint32(row[l.pid:])
	c.Created = filetimeToTime(int64(le.Uint64(row[l.created:])))
	if c.OSState <= math.MaxUint8 {
		c.State = tcptable.State(c.OSState)
	}
	c.Local = netip.AddrPortFrom(decodeAddr(row, l.addrLen, l.localAddr, l.localScope), decodePort(row[l.localPort:]))
	if c.State == tcptable.StateListen {
		c.Remote = netip.AddrPortFrom(unspecified(l.addrLen), 0)
	} else {
		c.Remote = netip.AddrPortFrom(decodeAddr(row, l.addrLen, l.remoteAddr, l.remoteScope), decodePort(row[l.remotePort:]))
	}
	if c.PID != 0 {
		c.OwnerStatus = tcptable.OwnerOK
	} else {
		c.OwnerStatus = tcptable.OwnerKernel
		c.ModuleStatus = tcptable.OwnerKernel
	}
}

// decodePort returns the port in a port DWORD: its low 16 bits, which hold
// the port in network byte order.
func decodePort(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

// decodeAddr returns the address of addrLen bytes at off, with the scope id
// at scopeOff (if >= 0) as its zone where that is meaningful.
func decodeAddr(row []byte, addrLen, off, scopeOff int) netip.Addr {
	if addrLen == 4 {
		return netip.AddrFrom4([4]byte(row[off : off+4]))
	}
	a := netip.AddrFrom16([16]byte(row[off : off+16]))
	if scopeOff >= 0 {
		if scope := binary.LittleEndian.Uint32(row[scopeOff:]); scope != 0 && hasInterfaceScope(a) {
			a = a.WithZone(strconv.FormatUint(uint64(scope), 10))
		}
	}
	return a
}

// hasInterfaceScope reports whether a's scope id is an interface index.
func hasInterfaceScope(a netip.Addr) bool {
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast()
}

// unspecified returns 0.0.0.0 or ::.
func unspecified(addrLen int) netip.Addr {
	if addrLen == 4 {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// allZero reports whether every byte of b is 0, eight at a time.
func allZero(b []byte) bool {
	for ; len(b) >= 8; b = b[8:] {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
	}
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// decodeModuleInfo reads OwningModuleInfo (16 little-endian ULONGLONGs) into info.
func decodeModuleInfo(info *[moduleInfoWords]uint64, b []byte) {
	for i := range info {
		info[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
}

// filetimeEpochDelta is the number of seconds from 1601-01-01 (the FILETIME
// epoch) to 1970-01-01 (the Unix epoch).
const filetimeEpochDelta = 11644473600

// filetimeToTime converts a FILETIME (100 ns intervals since 1601-01-01 UTC)
// to a UTC time; 0, "not recorded", gives the zero Time.
func filetimeToTime(ft int64) time.Time {
	if ft == 0 {
		return time.Time{}
	}
	const perSecond = 1e7
	return time.Unix(ft/perSecond-filetimeEpochDelta, ft%perSecond*100).UTC()
}
