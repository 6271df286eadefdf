//go:build windows

package windows

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tcptable/tcptable"
)

// Arguments of GetExtendedTcpTable and GetOwnerModuleFrom*Entry.
const (
	afInet  = 2  // AF_INET
	afInet6 = 23 // AF_INET6 on Windows

	tcpTableOwnerModuleListener = 6 // TCP_TABLE_OWNER_MODULE_LISTENER
	tcpTableOwnerModuleAll      = 8 // TCP_TABLE_OWNER_MODULE_ALL

	tcpipOwnerModuleInfoBasic = 0 // TCPIP_OWNER_MODULE_INFO_BASIC
)

// procs are the iphlpapi.dll exports the provider calls, looked up once by
// New. The owner-module procs are nil where the export is missing (Wine).
type procs struct {
	getExtendedTCPTable *windows.LazyProc
	ownerModule4        *windows.LazyProc // GetOwnerModuleFromTcpEntry
	ownerModule6        *windows.LazyProc // GetOwnerModuleFromTcp6Entry
}

// loadProcs finds the exports; only GetExtendedTcpTable is required.
func loadProcs() (procs, error) {
	dll := windows.NewLazySystemDLL("iphlpapi.dll")
	p := procs{getExtendedTCPTable: dll.NewProc("GetExtendedTcpTable")}
	if err := p.getExtendedTCPTable.Find(); err != nil {
		return procs{}, fmt.Errorf("iphlpapi.dll!GetExtendedTcpTable: %w (%w)", tcptable.ErrNotSupported, err)
	}
	if proc := dll.NewProc("GetOwnerModuleFromTcpEntry"); proc.Find() == nil {
		p.ownerModule4 = proc
	}
	if proc := dll.NewProc("GetOwnerModuleFromTcp6Entry"); proc.Find() == nil {
		p.ownerModule6 = proc
	}
	return p, nil
}

// bufPtr returns the address of b's first byte, or nil for an empty b.
func bufPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

// tcpTable fills b with the table of address family af and class, sorted
// if order is set. The provider never sorts: Wine's comparison of IPv4
// addresses overflows, and callers get no order promise anyway.
func (p *procs) tcpTable(b []byte, size *uint32, af, class uint32, order bool) error {
	var bOrder uintptr
	if order {
		bOrder = 1
	}
	r, _, _ := syscall.SyscallN(p.getExtendedTCPTable.Addr(),
		uintptr(bufPtr(b)), uintptr(unsafe.Pointer(size)), bOrder, uintptr(af), uintptr(class), 0)
	return result(r)
}

// ownerModule fills b with the TCPIP_OWNER_MODULE_BASIC_INFO of row (a
// MIB_TCPROW_OWNER_MODULE or, with proc ownerModule6, a
// MIB_TCP6ROW_OWNER_MODULE inside the table buffer).
func ownerModule(proc *windows.LazyProc, row unsafe.Pointer, b []byte, size *uint32) error {
	r, _, _ := syscall.SyscallN(proc.Addr(),
		uintptr(row), tcpipOwnerModuleInfoBasic, uintptr(bufPtr(b)), uintptr(unsafe.Pointer(size)))
	return result(r)
}

// result turns a Win32 return code into an error; "buffer too small" codes
// wrap errBufferTooSmall.
func result(r uintptr) error {
	switch r {
	case 0:
		return nil
	case errInsufficientBuffer, statusUnsuccessful:
		return fmt.Errorf("%w (%w)", errBufferTooSmall, windows.Errno(r))
	}
	return windows.Errno(r)
}

// isWine reports whether the process runs under Wine: only Wine's ntdll
// exports wine_get_version.
func isWine() bool {
	return windows.NewLazySystemDLL("ntdll.dll").NewProc("wine_get_version").Find() == nil
}
