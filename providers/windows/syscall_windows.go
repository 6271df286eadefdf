//go:build windows

package windows

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tcptable/tcptable"
)

// tcpipOwnerModuleInfoBasic is TCPIP_OWNER_MODULE_INFO_BASIC, the class of
// GetOwnerModuleFrom*Entry.
const tcpipOwnerModuleInfoBasic = 0

// procs are the iphlpapi.dll exports the provider calls, looked up once by
// New. All but GetExtendedTcpTable are nil where the export is missing
// (Wine lacks the owner-module and Get...EStats functions).
type procs struct {
	getExtendedTCPTable *windows.LazyProc
	ownerModule4        *windows.LazyProc // GetOwnerModuleFromTcpEntry
	ownerModule6        *windows.LazyProc // GetOwnerModuleFromTcp6Entry
	getEStats4          *windows.LazyProc // GetPerTcpConnectionEStats
	getEStats6          *windows.LazyProc // GetPerTcp6ConnectionEStats
	setEStats4          *windows.LazyProc // SetPerTcpConnectionEStats
	setEStats6          *windows.LazyProc // SetPerTcp6ConnectionEStats
	setTCPEntryProc     *windows.LazyProc // SetTcpEntry
}

// loadProcs finds the exports; only GetExtendedTcpTable is required.
func loadProcs() (procs, error) {
	dll := windows.NewLazySystemDLL("iphlpapi.dll")
	p := procs{getExtendedTCPTable: dll.NewProc("GetExtendedTcpTable")}
	if err := p.getExtendedTCPTable.Find(); err != nil {
		return procs{}, fmt.Errorf("iphlpapi.dll!GetExtendedTcpTable: %w (%w)", tcptable.ErrNotSupported, err)
	}
	optional := func(name string) *windows.LazyProc {
		if proc := dll.NewProc(name); proc.Find() == nil {
			return proc
		}
		return nil
	}
	p.ownerModule4 = optional("GetOwnerModuleFromTcpEntry")
	p.ownerModule6 = optional("GetOwnerModuleFromTcp6Entry")
	p.getEStats4 = optional("GetPerTcpConnectionEStats")
	p.getEStats6 = optional("GetPerTcp6ConnectionEStats")
	p.setEStats4 = optional("SetPerTcpConnectionEStats")
	p.setEStats6 = optional("SetPerTcp6ConnectionEStats")
	p.setTCPEntryProc = optional("SetTcpEntry")
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

// estatsSupported reports whether GetPerTcp(6)ConnectionEStats exists.
func (p *procs) estatsSupported(ipv6 bool) bool {
	if ipv6 {
		return p.getEStats6 != nil
	}
	return p.getEStats4 != nil
}

// getEStats calls GetPerTcp(6)ConnectionEStats for mib with a Rw buffer
// (the EnableCollection BOOLEAN), no Ros and rod.
func (p *procs) getEStats(mib []byte, ipv6 bool, t estatsType, rod []byte) (bool, error) {
	proc := p.getEStats4
	if ipv6 {
		proc = p.getEStats6
	}
	if proc == nil {
		return false, fmt.Errorf("GetPerTcpConnectionEStats: %w", tcptable.ErrNotSupported)
	}
	var rw [estatsRWSize]byte
	r, _, _ := syscall.SyscallN(proc.Addr(), uintptr(bufPtr(mib)), uintptr(t),
		uintptr(bufPtr(rw[:])), 0, uintptr(len(rw)),
		0, 0, 0,
		uintptr(bufPtr(rod)), 0, uintptr(len(rod)))
	if err := winError(r); err != nil {
		return false, fmt.Errorf("GetPerTcpConnectionEStats(%v): %w", t, err)
	}
	return rw[0] != 0, nil
}

// enableEStats calls SetPerTcp(6)ConnectionEStats for mib with
// EnableCollection TRUE.
func (p *procs) enableEStats(mib []byte, ipv6 bool, t estatsType) error {
	proc := p.setEStats4
	if ipv6 {
		proc = p.setEStats6
	}
	if proc == nil {
		return fmt.Errorf("SetPerTcpConnectionEStats: %w", tcptable.ErrNotSupported)
	}
	rw := [estatsRWSize]byte{1}
	r, _, _ := syscall.SyscallN(proc.Addr(), uintptr(bufPtr(mib)), uintptr(t),
		uintptr(bufPtr(rw[:])), 0, uintptr(len(rw)), 0)
	if err := winError(r); err != nil {
		return fmt.Errorf("SetPerTcpConnectionEStats(%v): %w", t, err)
	}
	return nil
}

// setTCPEntry calls SetTcpEntry with mib, a MIB_TCPROW.
func (p *procs) setTCPEntry(mib []byte) error {
	if p.setTCPEntryProc == nil {
		return fmt.Errorf("SetTcpEntry: %w", tcptable.ErrNotSupported)
	}
	r, _, _ := syscall.SyscallN(p.setTCPEntryProc.Addr(), uintptr(bufPtr(mib)))
	return winError(r)
}

// winError turns a Win32 return code into an error that wraps the
// windows.Errno and, for the codes that have one, the tcptable sentinel:
// ERROR_ACCESS_DENIED tcptable.ErrPermission, ERROR_NOT_FOUND
// tcptable.ErrNotFound, ERROR_NOT_SUPPORTED and ERROR_CALL_NOT_IMPLEMENTED
// tcptable.ErrNotSupported.
func winError(r uintptr) error {
	errno := windows.Errno(r)
	switch errno {
	case 0:
		return nil
	case windows.ERROR_ACCESS_DENIED:
		return fmt.Errorf("%w (%w)", tcptable.ErrPermission, errno)
	case windows.ERROR_NOT_FOUND:
		return fmt.Errorf("%w (%w)", tcptable.ErrNotFound, errno)
	case windows.ERROR_NOT_SUPPORTED, windows.ERROR_CALL_NOT_IMPLEMENTED:
		return fmt.Errorf("%w (%w)", tcptable.ErrNotSupported, errno)
	}
	return errno
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
