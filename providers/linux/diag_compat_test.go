package linux

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

func TestBuildCompatRequest(t *testing.T) {
	b := buildDiagRequest(nil, afUnspec, 1<<tcpEstablished|1<<tcpListen, extInfo, 9)
	require.Len(t, b, nlmsgHdrLen+inetDiagReqCompatLen)
	ne := binary.NativeEndian
	assert.Equal(t, uint32(len(b)), ne.Uint32(b[0:]))
	assert.Equal(t, uint16(tcpDiagGetSock), ne.Uint16(b[4:]))
	assert.Equal(t, uint16(nlmFRequest|nlmFDump), ne.Uint16(b[6:]))
	assert.Equal(t, uint32(9), ne.Uint32(b[8:]))
	r := b[nlmsgHdrLen:]
	assert.Equal(t, []byte{afInet, 0, 0, extInfo}, r[:4], "family, no address lengths, idiag_ext")
	assert.Equal(t, make([]byte, 40), r[4:44], "ports, addresses and interface zero in a dump")
	assert.Equal(t, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, r[44:52], "INET_DIAG_NOCOOKIE")
	assert.Equal(t, uint32(1<<tcpEstablished|1<<tcpListen), ne.Uint32(r[52:]), "idiag_states")
	assert.Equal(t, uint32(0), ne.Uint32(r[56:]), "idiag_dbs")
	// The same buffer serves the per-family request after it.
	b2 := buildDiagRequest(b, afInet6, 0, 0, 10)
	assert.Len(t, b2, nlmsgHdrLen+inetDiagReqLen)
	assert.Equal(t, &b[0], &b2[0])
	// The socket storage attribute goes after the compat request as after a
	// sock_diag one.
	b3 := appendStorageReq(buildDiagRequest(nil, afUnspec, 1<<tcpListen, 0, 11), 33)
	require.Len(t, b3, nlmsgHdrLen+inetDiagReqCompatLen+12)
	assert.Equal(t, uint32(len(b3)), ne.Uint32(b3[0:]))
	assert.Equal(t, uint16(inetDiagReqSkBPFStorages|0x8000), ne.Uint16(b3[nlmsgHdrLen+inetDiagReqCompatLen+2:]))
}

func TestParseDiagCompatReplies(t *testing.T) {
	var b []byte
	for _, r := range fixtureRows {
		b = append(b, nlMsg(tcpDiagGetSock, nlmFMulti, 3, diagMsg(r))...)
	}
	b = append(b, nlMsg(nlmsgDone, nlmFMulti, 3, []byte{0, 0, 0, 0})...)
	rows, st, err := collectDiag(t, b, 3)
	require.NoError(t, err)
	assert.True(t, st.Done)
	assert.Equal(t, fixtureRows, rows, "TCPDIAG_GETSOCK replies carry inet_diag_msg, each with its family")
}

func TestDumpEveryFamily(t *testing.T) {
	run := func(fams []uint8, compat *atomic.Bool, refuse error) ([]tcptable.Connection, []uint8, error) {
		var asked []uint8
		dump := func(_ context.Context, fam uint8, _ uint32, _ uint8, fn func(*diagRow)) (bool, error) {
			asked = append(asked, fam)
			if fam == afUnspec {
				fn(&diagRow{Family: afInet, State: tcpEstablished, Inode: 1})
				if refuse != nil {
					return false, refuse
				}
				fn(&diagRow{Family: afInet6, State: tcpEstablished, Inode: 2})
				return false, nil
			}
			fn(&diagRow{Family: fam, State: tcpEstablished, Inode: uint32(fam)})
			return false, nil
		}
		var rows []tcptable.Connection
		add := func(r *diagRow) {
			c, _ := connFromRow(r, numericZone)
			rows = append(rows, c)
		}
		err := dumpEveryFamily(context.Background(), fams, ^uint32(0), 0, 0, dump, &rows, add, compat)
		return rows, asked, err
	}
	both := []uint8{afInet, afInet6}

	var compat atomic.Bool
	compat.Store(true)
	rows, asked, err := run(both, &compat, nil)
	require.NoError(t, err)
	assert.Equal(t, []uint8{afUnspec}, asked, "one request for both families")
	assert.Len(t, rows, 2)

	_, asked, err = run([]uint8{afInet6}, &compat, nil)
	require.NoError(t, err)
	assert.Equal(t, []uint8{afInet6}, asked, "one family: its own request")

	boom := errors.New("boom")
	_, _, err = run(both, &compat, boom)
	assert.ErrorIs(t, err, boom, "other errors are the call's")
	assert.True(t, compat.Load())

	rows, asked, err = run(both, &compat, &DumpError{Errno: syscall.EINVAL})
	require.NoError(t, err)
	assert.Equal(t, []uint8{afUnspec, afInet, afInet6}, asked, "refused: one request per family")
	assert.Len(t, rows, 2, "the refused request's rows are dropped")
	assert.False(t, compat.Load(), "and from then on")
	_, asked, _ = run(both, &compat, nil)
	assert.Equal(t, both, asked)
}
