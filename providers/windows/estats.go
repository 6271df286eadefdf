package windows

import (
	"encoding/binary"
	"fmt"
	"time"
	"unsafe"

	"github.com/tcptable/tcptable"
)

// estatsType is a TCP_ESTATS_TYPE.
type estatsType uint32

// The TCP_ESTATS_TYPE values the provider reads.
const (
	estatsData estatsType = 1 // TcpConnectionEstatsData: bytes and segments
	estatsPath estatsType = 3 // TcpConnectionEstatsPath: RTT, retransmissions
)

func (t estatsType) String() string {
	switch t {
	case estatsData:
		return "TcpConnectionEstatsData"
	case estatsPath:
		return "TcpConnectionEstatsPath"
	}
	return fmt.Sprintf("TCP_ESTATS_TYPE(%d)", uint32(t))
}

// The layouts GetPerTcp(6)ConnectionEStats and SetPerTcp(6)ConnectionEStats
// use (offsets checked with offsetof against the mingw-w64 headers; every
// member is a ULONG or ULONG64, so 386, amd64 and arm64 agree).
const (
	// MIB_TCPROW: dwState, dwLocalAddr, dwLocalPort, dwRemoteAddr,
	// dwRemotePort. They are the first 20 bytes of MIB_TCPROW_OWNER_MODULE.
	mibTCPRowSize = 20
	// MIB_TCP6ROW: State, LocalAddr, dwLocalScopeId, dwLocalPort,
	// RemoteAddr, dwRemoteScopeId, dwRemotePort: State, then the first 48
	// bytes of MIB_TCP6ROW_OWNER_MODULE.
	mibTCP6RowSize = 52

	// TCP_ESTATS_DATA_ROD_v0, 96 bytes.
	dataRODSize          = 96
	dataBytesOut         = 0  // ULONG64 DataBytesOut
	dataSegsOut          = 32 // ULONG64 SegsOut
	dataSegsIn           = 40 // ULONG64 SegsIn
	dataThruBytesReceive = 88 // ULONG64 ThruBytesReceived

	// TCP_ESTATS_PATH_ROD_v0, 40 ULONGs.
	pathRODSize     = 160
	pathPktsRetrans = 20  // ULONG PktsRetrans
	pathSmoothedRtt = 108 // ULONG SmoothedRtt, milliseconds

	// TCP_ESTATS_DATA_RW_v0 and TCP_ESTATS_PATH_RW_v0: BOOLEAN
	// EnableCollection.
	estatsRWSize = 1
)

// mibRow writes into dst the MIB_TCPROW (ipv6 false) or MIB_TCP6ROW that
// GetPerTcp(6)ConnectionEStats, SetPerTcp(6)ConnectionEStats and
// SetTcpEntry take for raw, a MIB_TCP(6)ROW_OWNER_MODULE as the table holds
// it, and returns it. The row carries the scope ids exactly as the OS
// stored them.
func mibRow(dst *mibBuf, raw []byte, ipv6 bool) []byte {
	b := dst.bytes()
	if !ipv6 {
		return b[:copy(b[:mibTCPRowSize], raw[:mibTCPRowSize])]
	}
	copy(b[0:4], raw[row6State:row6State+4])
	copy(b[4:mibTCP6RowSize], raw[:mibTCP6RowSize-4])
	return b[:mibTCP6RowSize]
}

// mibBuf holds a MIB_TCPROW or MIB_TCP6ROW, aligned as the OS expects its
// DWORDs (a byte array may sit at any address).
type mibBuf [(mibTCP6RowSize + 7) / 8]uint64

func (m *mibBuf) bytes() []byte { return asBytes(m[:]) }

// asBytes returns the memory of words as bytes: a buffer for the OS that is
// aligned for the ULONG64 members it writes.
func asBytes(words []uint64) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(words))), 8*len(words))
}

// decodeEStats builds Stats from a TCP_ESTATS_DATA_ROD_v0 and a
// TCP_ESTATS_PATH_ROD_v0. The counters mean what they mean on Linux:
// BytesSent is DataBytesOut (RFC 4898 tcpEStatsPerfHCDataOctetsOut,
// retransmissions included, as tcpi_bytes_sent), BytesReceived is
// ThruBytesReceived (tcpEStatsAppHCThruOctetsReceived, as
// tcpi_bytes_received), SegmentsSent and SegmentsReceived are SegsOut and
// SegsIn (tcpi_segs_out, tcpi_segs_in), Retransmits is PktsRetrans
// (tcpEStatsPerfSegsRetrans, as tcpi_total_retrans) and RTT is SmoothedRtt
// (milliseconds).
func decodeEStats(data, path []byte) (tcptable.Stats, error) {
	if len(data) < dataRODSize || len(path) < pathRODSize {
		return tcptable.Stats{}, fmt.Errorf("%w: TCP_ESTATS_DATA_ROD_v0 of %d bytes (want %d) or TCP_ESTATS_PATH_ROD_v0 of %d bytes (want %d)",
			tcptable.ErrInvalid, len(data), dataRODSize, len(path), pathRODSize)
	}
	le := binary.LittleEndian
	return tcptable.Stats{
		BytesSent:        le.Uint64(data[dataBytesOut:]),
		BytesReceived:    le.Uint64(data[dataThruBytesReceive:]),
		SegmentsSent:     le.Uint64(data[dataSegsOut:]),
		SegmentsReceived: le.Uint64(data[dataSegsIn:]),
		Retransmits:      uint64(le.Uint32(path[pathPktsRetrans:])),
		RTT:              time.Duration(le.Uint32(path[pathSmoothedRtt:])) * time.Millisecond,
	}, nil
}
