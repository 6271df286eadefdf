package windows

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeModules is a moduleOS whose owner-module answer is a real
// TCPIP_OWNER_MODULE_BASIC_INFO buffer (as moduleBuf lays it out) decoded
// by decodeOwnerModule, and whose process images come from a map.
type fakeModules struct {
	missing  bool                    // the owner-module export is missing (Wine)
	answer   []byte                  // the buffer GetOwnerModuleFrom*Entry fills
	err      error                   // or the error it returns
	images   map[uint32]moduleResult // process images by PID
	ownerN   int                     // calls of ownerModule
	imageN   int                     // calls of processImage
	lastIPv6 bool
}

const fakeBase = 0x7000

func (f *fakeModules) ownerModule(_ unsafe.Pointer, ipv6 bool) (tcptable.Module, bool, error) {
	f.ownerN++
	f.lastIPv6 = ipv6
	if f.missing {
		return tcptable.Module{}, false, nil
	}
	if f.err != nil {
		return tcptable.Module{}, true, f.err
	}
	m, err := decodeOwnerModule(f.answer, fakeBase, 8)
	return m, true, err
}

func (f *fakeModules) processImage(pid uint32) moduleResult {
	f.imageN++
	if r, ok := f.images[pid]; ok {
		return r
	}
	return moduleResult{status: tcptable.OwnerExited}
}

var svchost = moduleResult{
	mod:    tcptable.Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`},
	status: tcptable.OwnerOK, source: tcptable.SourceProcessImage,
}

func TestResolveModules(t *testing.T) {
	tests := []struct {
		name   string
		os     fakeModules
		want   tcptable.Module
		status tcptable.OwnerStatus
		source tcptable.ModuleSource
	}{{
		name: "an image: name and path as the OS gives them",
		os:   fakeModules{answer: moduleBuf(fakeBase, 8, "nginx.exe", `C:\nginx\nginx.exe`)},
		want: tcptable.Module{Name: "nginx.exe", Path: `C:\nginx\nginx.exe`}, status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule,
	}, {
		name:   "a svchost-hosted service: the name is the service, the path the process image",
		os:     fakeModules{answer: moduleBuf(fakeBase, 8, "Dnscache", "Dnscache"), images: map[uint32]moduleResult{900: svchost}},
		want:   tcptable.Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`, Service: "Dnscache"},
		status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule,
	}, {
		name: "a service whose image cannot be read keeps the service, not a fake path",
		os: fakeModules{answer: moduleBuf(fakeBase, 8, "RpcSs", "RpcSs"),
			images: map[uint32]moduleResult{900: {status: tcptable.OwnerPermissionDenied}}},
		want: tcptable.Module{Service: "RpcSs"}, status: tcptable.OwnerOK, source: tcptable.SourceOwnerModule,
	}, {
		name: "empty strings (a protected process, not elevated): the image",
		os:   fakeModules{answer: moduleBuf(fakeBase, 8, "", ""), images: map[uint32]moduleResult{900: svchost}},
		want: svchost.mod, status: tcptable.OwnerOK, source: tcptable.SourceProcessImage,
	}, {
		name: "export missing (Wine): the image",
		os:   fakeModules{missing: true, images: map[uint32]moduleResult{900: svchost}},
		want: svchost.mod, status: tcptable.OwnerOK, source: tcptable.SourceProcessImage,
	}, {
		name: "ERROR_NOT_FOUND and an image that fails for no known reason: not found",
		os: fakeModules{err: fmt.Errorf("%w (Element not found.)", errNoOwnerModule),
			images: map[uint32]moduleResult{900: {status: tcptable.OwnerUnknown}}},
		status: tcptable.OwnerNotFound,
	}, {
		name:   "a malformed answer and a process that exited",
		os:     fakeModules{answer: []byte{1, 2, 3}},
		status: tcptable.OwnerExited,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newResolver(&tt.os)
			r.begin()
			var row [row6Size]byte
			c := tcptable.Connection{PID: 900, OwnerStatus: tcptable.OwnerOK}
			r.resolve(&c, unsafe.Pointer(&row[0]), true)
			assert.Equal(t, tt.want, c.Module)
			assert.Equal(t, tt.status, c.ModuleStatus)
			assert.Equal(t, tt.source, c.ModuleSource)
			assert.True(t, tt.os.lastIPv6, "the IPv6 export is asked for an IPv6 row")
			assert.NotContains(t, c.Module.Path+"|", "Dnscache|", "Path is never a service name")
		})
	}
}

func TestServiceName(t *testing.T) {
	for _, tt := range []struct {
		m       tcptable.Module
		svc     string
		service bool
	}{
		{tcptable.Module{Name: "Dnscache", Path: "Dnscache"}, "Dnscache", true},
		{tcptable.Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`}, "", false},
		{tcptable.Module{Name: "a.exe", Path: `\\?\C:\a.exe`}, "", false},
		{tcptable.Module{Name: "a", Path: "/opt/a"}, "", false},
		{tcptable.Module{Name: "a.exe"}, "", false},
	} {
		svc, ok := serviceName(tt.m)
		assert.Equal(t, tt.service, ok, "%+v", tt.m)
		assert.Equal(t, tt.svc, svc, "%+v", tt.m)
	}
}

// TestResolverCache: one lookup per (PID, creation time, module info);
// entries the last Table call did not use are swept; exited owners are
// never cached.
func TestResolverCache(t *testing.T) {
	os := &fakeModules{answer: moduleBuf(fakeBase, 8, "Dnscache", "Dnscache"), images: map[uint32]moduleResult{900: svchost}}
	r := newResolver(os)
	var row [row4Size]byte
	get := func(pid uint32, info *[16]uint64) tcptable.Connection {
		c := tcptable.Connection{PID: pid, OwnerStatus: tcptable.OwnerOK, OwningModuleInfo: info}
		r.resolve(&c, unsafe.Pointer(&row[0]), false)
		return c
	}
	r.begin()
	get(900, nil)
	get(900, nil)
	require.Equal(t, 1, os.ownerN, "cached")
	get(900, &[16]uint64{7}) // another service in the same svchost.exe
	require.Equal(t, 2, os.ownerN, "module info is part of the key")
	os.answer = moduleBuf(fakeBase, 8, "x", "x")
	get(901, nil) // no image: exited
	get(901, nil)
	require.Equal(t, 4, os.ownerN, "exited owners are not cached")
	r.sweep()
	require.Len(t, r.cache, 2)

	r.begin()
	get(900, nil)
	r.sweep()
	require.Len(t, r.cache, 1, "entries unused by the last call are dropped")

	idle := tcptable.Connection{OwnerStatus: tcptable.OwnerKernel}
	r.resolve(&idle, unsafe.Pointer(&row[0]), false)
	sys := get(pidSystem, nil)
	assert.Equal(t, tcptable.OwnerKernel, idle.ModuleStatus)
	assert.Equal(t, tcptable.Module{Name: "System"}, sys.Module)
	assert.Equal(t, 4, os.ownerN, "PIDs 0 and 4 ask nothing")
}
