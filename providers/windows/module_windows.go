//go:build windows

package windows

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tcptable/tcptable"
)

const (
	ptrSize = int(unsafe.Sizeof(uintptr(0)))

	moduleBufSize = 2048 // holds TCPIP_OWNER_MODULE_BASIC_INFO with typical paths
	moduleBufMax  = 1 << 20
	imagePathMax  = 32768 // UTF-16 units: the longest NT path
)

// winModules asks Windows for modules: GetOwnerModuleFrom*Entry and the
// process image. It is used under Provider.mu.
type winModules struct {
	procs   *procs
	buf     []byte   // reused TCPIP_OWNER_MODULE_BASIC_INFO buffer
	pathBuf []uint16 // reused QueryFullProcessImageNameW buffer
}

// ownerModule calls GetOwnerModuleFromTcp(6)Entry for row with size
// negotiation and decodes the strings, which point inside w.buf.
func (w *winModules) ownerModule(row unsafe.Pointer, ipv6 bool) (tcptable.Module, bool, error) {
	proc := w.procs.ownerModule4
	if ipv6 {
		proc = w.procs.ownerModule6
	}
	if proc == nil {
		return tcptable.Module{}, false, nil
	}
	if w.buf == nil {
		w.buf = make([]byte, moduleBufSize)
	}
	buf, err := negotiate("GetOwnerModuleFromTcpEntry", w.buf, defaultTries, moduleBufMax, func(b []byte, size *uint32) error {
		return ownerModule(proc, row, b, size)
	})
	w.buf = buf
	if errors.Is(err, windows.ERROR_NOT_FOUND) {
		err = fmt.Errorf("%w (%w)", errNoOwnerModule, err)
	}
	if err != nil {
		return tcptable.Module{}, true, err
	}
	m, err := decodeOwnerModule(buf, uintptr(unsafe.Pointer(&buf[0])), ptrSize)
	return m, true, err
}

// processImage resolves pid's image with OpenProcess and
// QueryFullProcessImageNameW.
func (w *winModules) processImage(pid uint32) moduleResult {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return moduleResult{status: openStatus(err)}
	}
	defer windows.CloseHandle(h)
	if w.pathBuf == nil {
		w.pathBuf = make([]uint16, imagePathMax)
	}
	n := uint32(len(w.pathBuf))
	if err := windows.QueryFullProcessImageName(h, 0, &w.pathBuf[0], &n); err != nil {
		return moduleResult{status: openStatus(err)}
	}
	path := windows.UTF16ToString(w.pathBuf[:min(int(n), len(w.pathBuf))])
	return moduleResult{
		mod:    tcptable.Module{Name: imageName(path), Path: path},
		status: tcptable.OwnerOK,
		source: tcptable.SourceProcessImage,
	}
}

// release drops the reused buffers.
func (w *winModules) release() { w.buf, w.pathBuf = nil, nil }

// openStatus maps the error of OpenProcess or QueryFullProcessImageNameW.
func openStatus(err error) tcptable.OwnerStatus {
	switch {
	case errors.Is(err, windows.ERROR_ACCESS_DENIED):
		return tcptable.OwnerPermissionDenied
	case errors.Is(err, windows.ERROR_INVALID_PARAMETER): // no such process (any more)
		return tcptable.OwnerExited
	}
	return tcptable.OwnerUnknown
}
