package windows

import (
	"errors"
	"strings"
	"time"
	"unsafe"

	"github.com/tcptable/tcptable"
)

const (
	pidIdle   = 0 // the System Idle Process: TIME-WAIT rows and the like
	pidSystem = 4 // the kernel's System process: SMB, HTTP.sys, ...
)

// errNoOwnerModule is wrapped by a moduleOS.ownerModule error when the OS
// says the row has no owner module (ERROR_NOT_FOUND).
var errNoOwnerModule = errors.New("no owner module")

// moduleOS is what the resolver asks the OS: on Windows, iphlpapi and the
// process' image (module_windows.go); in tests, fakes.
type moduleOS interface {
	// ownerModule returns what GetOwnerModuleFromTcpEntry (ipv6 false) or
	// GetOwnerModuleFromTcp6Entry says of the raw row (a
	// MIB_TCP(6)ROW_OWNER_MODULE inside the table buffer). ok is false when
	// the export is missing (Wine).
	ownerModule(row unsafe.Pointer, ipv6 bool) (m tcptable.Module, ok bool, err error)
	// processImage returns the file name and full path of pid's image,
	// with a status saying why it is missing; OwnerUnknown when the
	// failure has no status of its own.
	processImage(pid uint32) moduleResult
}

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
	os    moduleOS
	cache map[moduleKey]*moduleResult
	gen   uint64
}

func newResolver(os moduleOS) *resolver {
	return &resolver{os: os, cache: map[moduleKey]*moduleResult{}}
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
	k := moduleKey{pid: c.PID, created: timeKey(c.Created)}
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

// timeKey returns t as a comparable number (0 for the zero Time).
func timeKey(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// lookup asks GetOwnerModuleFrom*Entry and falls back to the process image
// when that export is missing, fails or returns no strings (a protected
// process seen by a caller that is not elevated).
//
// An answer that names a service (a svchost-hosted service: the OS puts the
// service's name, not a path, in pModulePath as in pModuleName) becomes
// Module.Service, and Name and Path then come from the process image, so
// that Path is always a path. When the image cannot be read, Name and Path
// stay empty and the row keeps the service; when its process has exited,
// the status says so.
func (r *resolver) lookup(pid uint32, row unsafe.Pointer, ipv6 bool) moduleResult {
	mod, ok, err := r.os.ownerModule(row, ipv6)
	if ok && err == nil && !mod.IsZero() {
		svc, isService := serviceName(mod)
		if !isService {
			return moduleResult{mod: mod, status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule}
		}
		img := r.os.processImage(pid)
		switch img.status {
		case tcptable.OwnerOK:
		case tcptable.OwnerExited: // the service's process is gone
			return img
		default:
			img.mod = tcptable.Module{}
		}
		img.mod.Service = svc
		return moduleResult{mod: img.mod, status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule}
	}
	res := r.os.processImage(pid)
	if res.status == tcptable.OwnerUnknown && ok && errors.Is(err, errNoOwnerModule) {
		res.status = tcptable.OwnerNotFound
	}
	return res
}

// serviceName reports whether the owner-module answer m names a service
// rather than an image, and which: its pModulePath is not a path (it has no
// directory separator) but the service's name (Windows puts that name in
// pModuleName too).
func serviceName(m tcptable.Module) (string, bool) {
	if m.Path == "" || strings.ContainsAny(m.Path, `\/`) {
		return "", false
	}
	return m.Path, true
}
