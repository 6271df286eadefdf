//go:build windows

package windows

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/internal/testenv"
)

// TestConformance runs the shared suite against the real provider. Under
// Wine it declares, with their reasons, the gaps TestWineDeviations proves.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T) (tcptable.Provider, conformance.Env) {
		p, err := New()
		require.NoError(t, err)
		return p, conformance.OSEnv()
	}, append(wineGaps(), conformance.DeclareGap(conformance.NoDualStack,
		"MIB_TCP6ROW_OWNER_MODULE does not say whether an IPv6 socket has IPV6_V6ONLY, and no other API does for another process' socket"))...)
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
	assert.Greater(t, len(p.e.bufs[0]), tableHeaderSize+row4Size, "grown buffer is kept for the next call")
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
	key := moduleKey{pid: c.PID, created: timeKey(c.Created)}
	require.Contains(t, p.e.res.cache, key)
	require.NoError(t, pair.Close())
	_, err = p.Table(context.Background(), tcptable.Query{PID: c.PID})
	require.NoError(t, err)
	assert.NotContains(t, p.e.res.cache, key, "cache entries of vanished rows are swept")
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

// TestProcessImageOfMissingProcess: a PID that is no process gives a status,
// not an error.
func TestProcessImageOfMissingProcess(t *testing.T) {
	p := newProvider(t)
	res := p.mods.processImage(0xFFFFFFF0)
	assert.NotEqual(t, tcptable.OwnerOK, res.status)
	assert.True(t, res.mod.IsZero())
}

// TestKillOS: what Kill refuses, on Windows and Wine alike, and an IPv4 kill,
// which needs Administrator on Windows and which Wine only pretends to do
// (TestWineDeviations).
func TestKillOS(t *testing.T) {
	env := conformance.OSEnv()
	p := newProvider(t)
	ctx := context.Background()
	ln, err := env.Listen("tcp4")
	require.NoError(t, err)
	defer ln.Close()
	pair6, err := env.Dial("tcp6")
	require.NoError(t, err)
	defer pair6.Close()
	rows, err := p.Table(ctx, tcptable.Query{Owners: tcptable.OwnerPIDs})
	require.NoError(t, err)

	lrow := findRow(rows, ln.Addr().String(), "0.0.0.0:0")
	require.NotNil(t, lrow)
	err = p.Kill(ctx, *lrow)
	assert.ErrorIs(t, err, tcptable.ErrNotSupported, "listeners")
	c6 := findRow(rows, pair6.Client().String(), pair6.Server().String())
	require.NotNil(t, c6)
	assert.ErrorIs(t, p.Kill(ctx, *c6), tcptable.ErrNotSupported, "IPv6")
	gone := *lrow
	gone.State, gone.Remote = tcptable.StateEstablished, netip.MustParseAddrPort("127.0.0.1:9")
	assert.ErrorIs(t, p.Kill(ctx, gone), tcptable.ErrNotFound)

	if isWine() {
		return // the IPv4 kill is TestWineDeviations' "SetTcpEntry is a stub"
	}
	_, server, row := dialedRow(t, p)
	err = p.Kill(ctx, row)
	if errors.Is(err, tcptable.ErrPermission) {
		testenv.SkipOrFail(t, "not elevated (run as Administrator): %v", err)
	}
	require.NoError(t, err)
	require.NoError(t, server.SetReadDeadline(time.Now().Add(10*time.Second)))
	var b [1]byte
	_, err = server.Read(b[:])
	assert.Error(t, err, "the peer sees the connection end")
}

// dialedRow dials an IPv4 pair with package net and returns its ends
// (closed when t ends) and the client's row.
func dialedRow(t *testing.T, p *Provider) (client, server net.Conn, row tcptable.Connection) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { server.Close() })
	rows, err := p.Table(context.Background(), tcptable.Query{LocalPort: uint16(client.LocalAddr().(*net.TCPAddr).Port)})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	return client, server, rows[0]
}

// TestTableInvalidQuery: a query Validate rejects is an error before
// anything is read, with the provider's prefix and then the cause: the
// text names the project once, and errors.Is sees ErrInvalid.
func TestTableInvalidQuery(t *testing.T) {
	p := newProvider(t)
	rows, err := p.Table(context.Background(), tcptable.Query{Owners: 9})
	assert.Nil(t, rows)
	assert.EqualError(t, err, "tcptable/windows: Table: query: invalid input: unknown Owners OwnerDetail(9)")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
}
