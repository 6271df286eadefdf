//go:build windows

package windows

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
)

// TestConformance runs the shared suite against the real provider. Under
// Wine it declares, with their reasons, the gaps TestWineDeviations proves.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p, err := New()
		require.NoError(t, err)
		return p, conformance.OSEnv()
	}, append(wineGaps(), conformance.DeclareGap(conformance.NoDualStack,
		"GetExtendedTcpTable does not say whether an IPv6 socket has IPV6_V6ONLY; the provider does not report it yet"))...)
}

func newProvider(t *testing.T, opts ...Option) *Provider {
	t.Helper()
	p, err := New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, p.Close()) })
	return p
}

// findRow returns the row with the given local and remote ends, or nil.
func findRow(rows []tcptable.Connection, local, remote string) *tcptable.Connection {
	for i := range rows {
		if rows[i].Local.String() == local && rows[i].Remote.String() == remote {
			return &rows[i]
		}
	}
	return nil
}

// TestNegotiationGrowsBuffer starts from an 8-byte buffer: the first call
// must fail with ERROR_INSUFFICIENT_BUFFER and the loop must grow and keep
// the buffer.
func TestNegotiationGrowsBuffer(t *testing.T) {
	ln, err := conformance.OSEnv().Listen("tcp4")
	require.NoError(t, err)
	defer ln.Close()
	p := newProvider(t, WithInitialBufferSize(tableHeaderSize))
	rows, err := p.Table(context.Background(), tcptable.Query{Family: tcptable.IPv4, Class: tcptable.ClassListeners})
	require.NoError(t, err)
	assert.NotNil(t, findRow(rows, ln.Addr().String(), "0.0.0.0:0"), "listener %v missing from %d rows", ln.Addr(), len(rows))
	assert.Greater(t, len(p.bufs[0]), tableHeaderSize+row4Size, "grown buffer is kept for the next call")
}

// TestNegotiationGivesUp allows one call with a buffer too small for the
// table: the error says so and wraps ErrInconsistent.
func TestNegotiationGivesUp(t *testing.T) {
	ln, err := conformance.OSEnv().Listen("tcp4")
	require.NoError(t, err)
	defer ln.Close()
	p := newProvider(t, WithInitialBufferSize(tableHeaderSize), WithRetries(1))
	_, err = p.Table(context.Background(), tcptable.Query{Family: tcptable.IPv4})
	require.Error(t, err)
	assert.ErrorIs(t, err, tcptable.ErrInconsistent)
	assert.Contains(t, err.Error(), "after 1 tries")
}

// TestOwnModule: the dialing end of a pair (which Wine attributes, too) is
// owned by this process and its module is this executable.
func TestOwnModule(t *testing.T) {
	pair, err := conformance.OSEnv().Dial("tcp4")
	require.NoError(t, err)
	defer pair.Close()
	exe, err := os.Executable()
	require.NoError(t, err)

	p := newProvider(t)
	rows, err := p.Table(context.Background(), tcptable.Query{LocalPort: pair.Client().Port()})
	require.NoError(t, err)
	c := findRow(rows, pair.Client().String(), pair.Server().String())
	require.NotNil(t, c, "dialer row missing from %v", rows)
	assert.Equal(t, uint32(os.Getpid()), c.PID)
	assert.Equal(t, tcptable.OwnerOK, c.ModuleStatus)
	assert.Equal(t, tcptable.Module{Name: filepath.Base(exe), Path: exe}, foldModule(c.Module, exe))
	want := []tcptable.ModuleSource{tcptable.SourceOwnerModule, tcptable.SourceProcessImage}
	if isWine() {
		want = want[1:] // GetOwnerModuleFromTcpEntry is missing
	}
	assert.Contains(t, want, c.ModuleSource)

	// The module is cached for the live row and dropped once the row is gone.
	key := moduleKey{pid: c.PID, created: timeKey(c)}
	require.Contains(t, p.res.cache, key)
	require.NoError(t, pair.Close())
	_, err = p.Table(context.Background(), tcptable.Query{PID: c.PID})
	require.NoError(t, err)
	assert.NotContains(t, p.res.cache, key, "cache entries of vanished rows are swept")
}

// foldModule returns m with the spelling of exe where they differ only in
// case (Windows paths are case-insensitive).
func foldModule(m tcptable.Module, exe string) tcptable.Module {
	if strings.EqualFold(m.Path, exe) {
		m.Path = exe
	}
	if strings.EqualFold(m.Name, filepath.Base(exe)) {
		m.Name = filepath.Base(exe)
	}
	return m
}

// TestResolveSpecialPIDs: PID 0 has no module, PID 4 is "System", without
// asking the OS.
func TestResolveSpecialPIDs(t *testing.T) {
	p := newProvider(t)
	var row [row4Size]byte
	idle := tcptable.Connection{OwnerStatus: tcptable.OwnerKernel}
	p.res.resolve(&idle, unsafe.Pointer(&row[0]), false)
	assert.Equal(t, tcptable.OwnerKernel, idle.ModuleStatus)
	assert.True(t, idle.Module.IsZero())

	sys := tcptable.Connection{PID: pidSystem, OwnerStatus: tcptable.OwnerOK}
	p.res.resolve(&sys, unsafe.Pointer(&row[0]), false)
	assert.Equal(t, tcptable.Module{Name: "System"}, sys.Module)
	assert.Equal(t, tcptable.OwnerOK, sys.ModuleStatus)
}

// TestProcessImageOfMissingProcess: a PID that is no process gives a status,
// not an error.
func TestProcessImageOfMissingProcess(t *testing.T) {
	p := newProvider(t)
	res := p.res.processImage(0xFFFFFFF0)
	assert.NotEqual(t, tcptable.OwnerOK, res.status)
	assert.True(t, res.mod.IsZero())
}
