//go:build windows

package windows

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/tcptable/tcptable"
)

const (
	pidIdle   = 0 // the System Idle Process: TIME-WAIT rows and the like
	pidSystem = 4 // the kernel's System process: SMB, HTTP.sys, ...

	ptrSize = int(unsafe.Sizeof(uintptr(0)))

	moduleBufSize = 2048 // holds TCPIP_OWNER_MODULE_BASIC_INFO with typical paths
	moduleBufMax  = 1 << 20
	imagePathMax  = 32768 // UTF-16 units: the longest NT path
)

// moduleKey identifies what a module lookup depends on: the owning process
// and the row's creation time and OwningModuleInfo (on Windows the module
// can differ between sockets of one svchost.exe). The creation time guards
// against PID reuse where the OS records it.
type moduleKey struct {
	pid     uint32
	created int64
	info    [moduleInfoWords]uint64
}

// moduleResult is a resolved (or unresolvable) module.
type moduleResult struct {
	mod    tcptable.Module
	status tcptable.OwnerStatus
	source tcptable.ModuleSource
	gen    uint64 // the Table call that last used it
}

// resolver resolves and caches modules. It is used under Provider.mu.
type resolver struct {
	procs   *procs
	buf     []byte   // reused TCPIP_OWNER_MODULE_BASIC_INFO buffer
	pathBuf []uint16 // reused QueryFullProcessImageNameW buffer
	cache   map[moduleKey]*moduleResult
	gen     uint64
}

func newResolver(p *procs) *resolver {
	return &resolver{procs: p, cache: map[moduleKey]*moduleResult{}}
}

// begin starts a Table call.
func (r *resolver) begin() { r.gen++ }

// sweep drops the entries the last Table call did not use, so the cache
// holds only live rows' owners and a reused PID cannot inherit a module for
// long.
func (r *resolver) sweep() {
	for k, e := range r.cache {
		if e.gen != r.gen {
			delete(r.cache, k)
		}
	}
}

// resolve sets c's Module, ModuleStatus and ModuleSource. row is c's raw row
// inside the table buffer, for GetOwnerModuleFrom*Entry.
func (r *resolver) resolve(c *tcptable.Connection, row unsafe.Pointer, ipv6 bool) {
	switch c.PID {
	case pidIdle:
		c.ModuleStatus = c.OwnerStatus
		return
	case pidSystem:
		c.Module, c.ModuleStatus, c.ModuleSource = tcptable.Module{Name: "System"}, tcptable.OwnerOK, tcptable.SourceSynthetic
		return
	}
	k := moduleKey{pid: c.PID, created: timeKey(c)}
	if c.OwningModuleInfo != nil {
		k.info = *c.OwningModuleInfo
	}
	e, ok := r.cache[k]
	if !ok {
		res := r.lookup(c.PID, row, ipv6)
		e = &res
		if res.status != tcptable.OwnerExited {
			r.cache[k] = e
		}
	}
	e.gen = r.gen
	c.Module, c.ModuleStatus, c.ModuleSource = e.mod, e.status, e.source
}

// timeKey returns c.Created as a comparable number (0 when unknown).
func timeKey(c *tcptable.Connection) int64 {
	if c.Created.IsZero() {
		return 0
	}
	return c.Created.UnixNano()
}

// lookup asks GetOwnerModuleFrom*Entry and falls back to the process image
// when that export is missing, fails or returns no strings (a protected
// process seen by a caller that is not elevated).
func (r *resolver) lookup(pid uint32, row unsafe.Pointer, ipv6 bool) moduleResult {
	proc := r.procs.ownerModule4
	if ipv6 {
		proc = r.procs.ownerModule6
	}
	notFound := false
	if proc != nil {
		mod, err := r.ownerModule(proc, row)
		if err == nil && !mod.IsZero() {
			return moduleResult{mod: mod, status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule}
		}
		notFound = errors.Is(err, windows.ERROR_NOT_FOUND)
	}
	res := r.processImage(pid)
	if res.status == tcptable.OwnerUnknown && notFound {
		res.status = tcptable.OwnerNotFound
	}
	return res
}

// ownerModule calls proc for row with size negotiation and decodes the
// strings, which point inside r.buf.
func (r *resolver) ownerModule(proc *windows.LazyProc, row unsafe.Pointer) (tcptable.Module, error) {
	if r.buf == nil {
		r.buf = make([]byte, moduleBufSize)
	}
	buf, err := negotiate("GetOwnerModuleFromTcpEntry", r.buf, defaultTries, moduleBufMax, func(b []byte, size *uint32) error {
		return ownerModule(proc, row, b, size)
	})
	r.buf = buf
	if err != nil {
		return tcptable.Module{}, err
	}
	return decodeOwnerModule(buf, uintptr(unsafe.Pointer(&buf[0])), ptrSize)
}

// processImage resolves pid's image with OpenProcess and
// QueryFullProcessImageNameW. Its status is OwnerUnknown when the call
// failed for a reason that has no status of its own.
func (r *resolver) processImage(pid uint32) moduleResult {
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pid)
	if err != nil {
		return moduleResult{status: openStatus(err)}
	}
	defer windows.CloseHandle(h)
	if r.pathBuf == nil {
		r.pathBuf = make([]uint16, imagePathMax)
	}
	n := uint32(len(r.pathBuf))
	if err := windows.QueryFullProcessImageName(h, 0, &r.pathBuf[0], &n); err != nil {
		return moduleResult{status: openStatus(err)}
	}
	path := windows.UTF16ToString(r.pathBuf[:min(int(n), len(r.pathBuf))])
	return moduleResult{
		mod:    tcptable.Module{Name: imageName(path), Path: path},
		status: tcptable.OwnerOK,
		source: tcptable.SourceProcessImage,
	}
}

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
