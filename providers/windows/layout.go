package windows

import "github.com/tcptable/tcptable"

// The byte layouts of the tables GetExtendedTcpTable fills with the
// TCP_TABLE_OWNER_MODULE_* classes. They are the same on 386, amd64 and
// arm64: every member is a DWORD, a LARGE_INTEGER or a ULONGLONG, and the
// 8-byte members force 8-byte alignment of the rows on every architecture
// (offsets checked with offsetof against the mingw-w64 headers).
//
// A table is a DWORD dwNumEntries, 4 bytes of padding, then the rows.
const (
	tableHeaderSize = 8 // dwNumEntries + padding
	moduleInfoWords = 16

	// MIB_TCPROW_OWNER_MODULE (AF_INET).
	row4Size       = 160
	row4State      = 0
	row4LocalAddr  = 4
	row4LocalPort  = 8
	row4RemoteAddr = 12
	row4RemotePort = 16
	row4PID        = 20
	row4Created    = 24
	row4ModuleInfo = 32

	// MIB_TCP6ROW_OWNER_MODULE (AF_INET6).
	row6Size        = 192
	row6LocalAddr   = 0
	row6LocalScope  = 16
	row6LocalPort   = 20
	row6RemoteAddr  = 24
	row6RemoteScope = 40
	row6RemotePort  = 44
	row6State       = 48
	row6PID         = 52
	row6Created     = 56
	row6ModuleInfo  = 64
)

// rowLayout says where the members of one row kind are.
type rowLayout struct {
	name                    string // the C type, for error messages
	size                    int
	state, pid, created     int
	localAddr, localPort    int
	remoteAddr, remotePort  int
	localScope, remoteScope int // IPv6 only; -1 for IPv4
	moduleInfo              int
	addrLen                 int
}

// layoutOf returns the row layout of family f's table.
func layoutOf(f tcptable.Family) (rowLayout, bool) {
	switch f {
	case tcptable.IPv4:
		return rowLayout{
			name: "MIB_TCPTABLE_OWNER_MODULE", size: row4Size,
			state: row4State, pid: row4PID, created: row4Created,
			localAddr: row4LocalAddr, localPort: row4LocalPort,
			remoteAddr: row4RemoteAddr, remotePort: row4RemotePort,
			localScope: -1, remoteScope: -1,
			moduleInfo: row4ModuleInfo, addrLen: 4,
		}, true
	case tcptable.IPv6:
		return rowLayout{
			name: "MIB_TCP6TABLE_OWNER_MODULE", size: row6Size,
			state: row6State, pid: row6PID, created: row6Created,
			localAddr: row6LocalAddr, localPort: row6LocalPort,
			remoteAddr: row6RemoteAddr, remotePort: row6RemotePort,
			localScope: row6LocalScope, remoteScope: row6RemoteScope,
			moduleInfo: row6ModuleInfo, addrLen: 16,
		}, true
	}
	return rowLayout{}, false
}
