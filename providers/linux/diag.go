package linux

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Netlink and sock_diag wire constants (linux/netlink.h, linux/sock_diag.h,
// linux/inet_diag.h). They are spelled out here rather than taken from
// golang.org/x/sys/unix so that this file, like every decoder of the
// package, builds and is fuzzed on every OS.
const (
	nlmsgHdrLen  = 16 // struct nlmsghdr
	nlmsgAlign   = 4  // NLMSG_ALIGNTO
	nlmsgNoop    = 1  // NLMSG_NOOP
	nlmsgError   = 2  // NLMSG_ERROR
	nlmsgDone    = 3  // NLMSG_DONE
	nlmFRequest  = 0x1
	nlmFMulti    = 0x2
	nlmFDumpIntr = 0x10
	nlmFDump     = 0x300 // NLM_F_ROOT | NLM_F_MATCH

	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	ipprotoTCP       = 6
	afInet           = 2
	afInet6          = 10

	inetDiagReqLen = 56 // struct inet_diag_req_v2
	inetDiagMsgLen = 72 // struct inet_diag_msg
)

// errMalformed is wrapped by every decoding error: the kernel (or a fixture)
// produced bytes that do not form valid messages.
var errMalformed = errors.New("malformed sock_diag message")

// diagRow is the part of an inet_diag_msg the provider uses.
type diagRow struct {
	Family  uint8    // afInet or afInet6
	State   uint8    // kernel TCP state code
	SPort   uint16   // host order
	DPort   uint16   // host order
	Src     [16]byte // IPv4 rows use the first 4 bytes
	Dst     [16]byte
	IfIndex uint32 // idiag_if: bound device or IPv6 scope
	UID     uint32
	Inode   uint32
}

// buildDiagRequest returns a complete netlink message: a dump request
// (NLM_F_REQUEST|NLM_F_DUMP) of the TCP sockets of family whose kernel state
// is in the states bitmask, asking for no extensions. Family afUnspec asks
// for both families in one request (buildCompatRequest).
func buildDiagRequest(dst []byte, family uint8, states, seq uint32) []byte {
	if family == afUnspec {
		return buildCompatRequest(dst, states, seq)
	}
	const total = nlmsgHdrLen + inetDiagReqLen
	b := append(dst[:0], make([]byte, total)...)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], total)
	ne.PutUint16(b[4:], sockDiagByFamily)
	ne.PutUint16(b[6:], nlmFRequest|nlmFDump)
	ne.PutUint32(b[8:], seq)
	// b[12:16] nlmsg_pid 0: the kernel.
	r := b[nlmsgHdrLen:]
	r[0] = family     // sdiag_family
	r[1] = ipprotoTCP // sdiag_protocol
	r[2] = 0          // idiag_ext: no extensions
	ne.PutUint32(r[4:], states)
	// inet_diag_sockid left zero except the cookie, INET_DIAG_NOCOOKIE.
	ne.PutUint32(r[48:], ^uint32(0))
	ne.PutUint32(r[52:], ^uint32(0))
	return b
}

// dumpStatus is what parseDiag learned about the dump as a whole.
type dumpStatus struct {
	Done        bool // NLMSG_DONE seen: the dump is complete
	Interrupted bool // NLM_F_DUMP_INTR seen: the table changed during the dump
}

// parseDiag decodes the netlink messages in b (the bytes of one recvmsg),
// calling fn for every inet_diag_msg of sequence seq. Messages of other
// sequences (left over from an abandoned dump) are skipped. It stops at
// NLMSG_DONE. An NLMSG_ERROR, or NLMSG_DONE carrying a negative code, is
// returned as a *DumpError wrapping the errno. Bytes that do not parse are
// an error wrapping errMalformed that gives the offset; parseDiag never
// panics.
func parseDiag(b []byte, seq uint32, fn func(*diagRow)) (dumpStatus, error) {
	var st dumpStatus
	ne := binary.NativeEndian
	var row diagRow
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < nlmsgHdrLen {
			return st, fmt.Errorf("%w: %d trailing bytes at offset %d, shorter than a header", errMalformed, len(rest), off)
		}
		mlen := int(ne.Uint32(rest[0:]))
		typ := ne.Uint16(rest[4:])
		flags := ne.Uint16(rest[6:])
		mseq := ne.Uint32(rest[8:])
		if mlen < nlmsgHdrLen || mlen > len(rest) {
			return st, fmt.Errorf("%w: message length %d at offset %d (%d bytes left)", errMalformed, mlen, off, len(rest))
		}
		payload := rest[nlmsgHdrLen:mlen]
		off += align(mlen)
		if mseq != seq {
			continue
		}
		if flags&nlmFDumpIntr != 0 {
			st.Interrupted = true
		}
		switch typ {
		case nlmsgNoop:
		case nlmsgDone:
			st.Done = true
			if len(payload) >= 4 {
				if code := int32(ne.Uint32(payload)); code < 0 {
					return st, &DumpError{Errno: syscall.Errno(-code)}
				}
			}
			return st, nil
		case nlmsgError:
			if len(payload) < 4 {
				return st, fmt.Errorf("%w: NLMSG_ERROR of %d bytes at offset %d", errMalformed, len(payload), off)
			}
			code := int32(ne.Uint32(payload))
			if code == 0 { // an acknowledgement; not expected in a dump
				continue
			}
			return st, &DumpError{Errno: syscall.Errno(-int64(code))}
		case sockDiagByFamily, tcpDiagGetSock:
			if len(payload) < inetDiagMsgLen {
				return st, fmt.Errorf("%w: inet_diag_msg of %d bytes (want %d) at offset %d", errMalformed, len(payload), inetDiagMsgLen, off)
			}
			decodeDiagMsg(payload, &row)
			fn(&row)
		default:
			return st, fmt.Errorf("%w: unexpected message type %d at offset %d", errMalformed, typ, off)
		}
	}
	return st, nil
}

// decodeDiagMsg fills r from an inet_diag_msg of at least inetDiagMsgLen
// bytes. Ports and addresses are big-endian on the wire; the rest is in host
// order. Attributes after the fixed part are ignored.
func decodeDiagMsg(p []byte, r *diagRow) {
	ne := binary.NativeEndian
	r.Family = p[0]
	r.State = p[1]
	r.SPort = binary.BigEndian.Uint16(p[4:])
	r.DPort = binary.BigEndian.Uint16(p[6:])
	copy(r.Src[:], p[8:24])
	copy(r.Dst[:], p[24:40])
	r.IfIndex = ne.Uint32(p[40:])
	// p[44:52] cookie, p[52:56] expires, p[56:60] rqueue, p[60:64] wqueue.
	r.UID = ne.Uint32(p[64:])
	r.Inode = ne.Uint32(p[68:])
}

// align rounds a message length up to NLMSG_ALIGNTO.
func align(n int) int { return (n + nlmsgAlign - 1) &^ (nlmsgAlign - 1) }

// DumpError is the kernel's answer when a sock_diag dump fails: the errno
// from an NLMSG_ERROR message or a negative NLMSG_DONE code.
type DumpError struct {
	Errno syscall.Errno
}

// Error returns "sock_diag dump: " and the errno's text.
func (e *DumpError) Error() string { return "sock_diag dump: " + e.Errno.Error() }

// Unwrap returns the errno, so errors.Is(err, syscall.EPERM) works.
func (e *DumpError) Unwrap() error { return e.Errno }
