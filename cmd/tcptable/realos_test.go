package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/native"
)

// TestRealOS runs the command against this host through native.New: a
// listener the test opens must appear in --json output with this process'
// PID.
func TestRealOS(t *testing.T) {
	p, err := native.New()
	if errors.Is(err, tcptable.ErrNotSupported) {
		t.Skipf("no native provider on %s yet (%v); the command is covered against the mock", runtime.GOOS, err)
	}
	require.NoError(t, err)
	require.NoError(t, p.Close())
	checkOwnListener(t, native.New)
}

// checkOwnListener opens a listener on 127.0.0.1 and checks that
// "tcptable --json -l --port P" over newProvider reports it, owned by this
// process.
func checkOwnListener(t *testing.T, newProvider func() (tcptable.Provider, error)) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	addr := netip.MustParseAddrPort(ln.Addr().String())

	a, stdout, stderr := testApp(nil)
	a.newProvider = newProvider
	require.Equal(t, exitOK, a.run(context.Background(), []string{"--json", "-l", "--port", strconv.Itoa(int(addr.Port()))}), stderr.String())
	var rows []map[string]any
	require.NoError(t, json.Unmarshal(stdout.Bytes(), &rows), stdout.String())
	require.Len(t, rows, 1, stdout.String())
	row := rows[0]
	assert.Equal(t, "LISTEN", row["state"])
	assert.Equal(t, addr.String(), row["local"])
	assert.Equal(t, "0.0.0.0:0", row["remote"])
	for _, k := range []string{"pid", "process", "path", "created"} {
		assert.Contains(t, row, k)
	}
	// The caller's own sockets always have a visible owner on Linux; a
	// provider elsewhere may say it cannot tell (Wine reports no PIDs).
	if row["owner_status"] == "ok" || runtime.GOOS == "linux" {
		assert.Equal(t, "ok", row["owner_status"], stdout.String())
		assert.Equal(t, float64(os.Getpid()), row["pid"], stdout.String())
	} else {
		assert.Equal(t, float64(0), row["pid"], "no owner, no PID")
		t.Logf("the provider reports no owner here: owner_status %v", row["owner_status"])
	}
	if row["module_status"] == "ok" || runtime.GOOS == "linux" {
		assert.NotEmpty(t, row["process"], stdout.String())
	}
}
