package linux

import (
	"context"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"syscall"

	"github.com/tcptable/tcptable"
)

// The older inet_diag request (linux/inet_diag.h), which dumps both
// address families in one walk of the kernel's socket tables.
const (
	afUnspec             = 0  // a dump of both families
	tcpDiagGetSock       = 18 // TCPDIAG_GETSOCK
	inetDiagReqCompatLen = 60 // struct inet_diag_req
)

// buildCompatRequest returns a TCPDIAG_GETSOCK dump request (struct
// inet_diag_req) for the TCP sockets of both families whose kernel state
// is in the states bitmask, asking for the extensions in the idiag_ext
// bitmask ext (as buildDiagRequest; attributes appended after it, such as
// appendStorageReq's, are read as after a sock_diag request). The kernel answers
// it with inet_diag_msg messages of type TCPDIAG_GETSOCK, each with its
// own family, from one walk of its tables: a sock_diag request names one
// family, and each request walks the whole established hash, which every
// network namespace shares (unless net.ipv4.tcp_child_ehash_entries gave
// it its own), so a dump of a small namespace costs about a walk of every
// TCP socket of the host.
func buildCompatRequest(dst []byte, states uint32, ext uint8, seq uint32) []byte {
	const total = nlmsgHdrLen + inetDiagReqCompatLen
	b := append(dst[:0], make([]byte, total)...)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], total)
	ne.PutUint16(b[4:], tcpDiagGetSock)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = afInet // idiag_family: ignored by dumps, which cover both
	// r[1:3] src and dst lengths; r[4:52] the inet_diag_sockid, zero
	// except its cookie, INET_DIAG_NOCOOKIE.
	r[3] = ext
	ne.PutUint32(r[44:], ^uint32(0))
	ne.PutUint32(r[48:], ^uint32(0))
	ne.PutUint32(r[52:], states) // idiag_states; r[56:60] idiag_dbs unused
	return b
}

// dumpEveryFamily dumps the families fams with dump, both in one compat
// request (family afUnspec) while *compat holds; a kernel that refuses
// that request (EINVAL, ENOENT, EOPNOTSUPP) clears *compat and gets one
// request per family, now and from then on. See dumpFamilies for rows,
// add and the retries.
func dumpEveryFamily(ctx context.Context, fams []uint8, mask uint32, ext uint8, retries int, dump dumper,
	rows *[]tcptable.Connection, add func(*diagRow), compat *atomic.Bool) error {
	if len(fams) < 2 || !compat.Load() {
		return dumpFamilies(ctx, fams, mask, ext, retries, dump, rows, add)
	}
	start := len(*rows)
	err := dumpFamilies(ctx, []uint8{afUnspec}, mask, ext, retries, dump, rows, add)
	var de *DumpError
	if !errors.As(err, &de) || (de.Errno != syscall.EINVAL && de.Errno != syscall.ENOENT && de.Errno != syscall.EOPNOTSUPP) {
		return err
	}
	compat.Store(false)
	*rows = (*rows)[:start]
	return dumpFamilies(ctx, fams, mask, ext, retries, dump, rows, add)
}
