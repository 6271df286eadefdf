package linux

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/testenv"
)

// TestKernelTCPInfo dumps a listener and a connection of this process
// with INET_DIAG_INFO from the running kernel (any user may): their
// tcp_info is at least Linux 4.19's, and the connection's counters show
// the bytes it moved.
func TestKernelTCPInfo(t *testing.T) {
	d, err := openDiag()
	if err != nil {
		testenv.SkipOrFail(t, "netlink sock_diag not available here (a kernel with CONFIG_INET_DIAG): %v", err)
	}
	defer d.close()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cl, err := net.Dial("tcp4", ln.Addr().String())
	require.NoError(t, err)
	defer cl.Close()
	sv, err := ln.Accept()
	require.NoError(t, err)
	defer sv.Close()
	_, err = cl.Write(make([]byte, 5000))
	require.NoError(t, err)
	_, err = sv.Read(make([]byte, 1)) // the data has arrived
	require.NoError(t, err)

	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	client := uint16(cl.LocalAddr().(*net.TCPAddr).Port)
	var listenLen, connLen int
	var sent uint64
	_, err = d.dump(context.Background(), afInet, 1<<tcpListen|1<<tcpEstablished, extInfo, func(r *diagRow) {
		switch {
		case r.State == tcpListen && r.SPort == port:
			listenLen = len(r.Info)
		case r.SPort == client && r.DPort == port:
			connLen = len(r.Info)
			var c tcptable.Connection
			newStatsSlab(nil).fill(&c, r)
			sent = c.Stats.BytesSent
		}
	})
	require.NoError(t, err)
	t.Logf("this kernel's struct tcp_info: %d bytes", connLen)
	assert.GreaterOrEqual(t, listenLen, tcpInfoLen419)
	assert.GreaterOrEqual(t, connLen, tcpInfoLen419)
	assert.Equal(t, uint64(5000), sent)

	// Without the extension, no tcp_info.
	_, err = d.dump(context.Background(), afInet, 1<<tcpListen, 0, func(r *diagRow) {
		assert.Nil(t, r.Info)
	})
	require.NoError(t, err)
}
