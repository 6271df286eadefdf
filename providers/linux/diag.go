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

	nlaHdrLen   = 4      // struct nlattr
	nlaTypeMask = 0x3fff // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

	inetDiagInfo = 2 // INET_DIAG_INFO: the attribute holding struct tcp_info

	// inetDiagSkV6Only is INET_DIAG_SKV6ONLY, a u8 attribute holding the
	// socket's IPV6_V6ONLY. The kernel adds it, unasked (no idiag_ext bit
	// selects it), to every AF_INET6 socket in LISTEN or CLOSE
	// (inet_diag_msg_attrs_fill), the only states a dual-stack socket can
	// be in.
	inetDiagSkV6Only = 11

	// extInfo is the idiag_ext bit that asks for INET_DIAG_INFO.
	extInfo = 1 << (inetDiagInfo - 1)

	// Socket storage in requests and answers (linux/inet_diag.h,
	// linux/sock_diag.h).
	inetDiagReqSkBPFStorages = 2  // INET_DIAG_REQ_SK_BPF_STORAGES
	skDiagBPFStorageReqMapFD = 1  // SK_DIAG_BPF_STORAGE_REQ_MAP_FD
	inetDiagSkBPFStorages    = 20 // INET_DIAG_SK_BPF_STORAGES
	skDiagBPFStorage         = 1  // SK_DIAG_BPF_STORAGE
	skDiagBPFStorageMapValue = 3  // SK_DIAG_BPF_STORAGE_MAP_VALUE
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
	RQueue  uint32 // idiag_rqueue: bytes not yet read (listeners: the accept queue)
	WQueue  uint32 // idiag_wqueue: bytes not yet acknowledged (listeners: the backlog)
	UID     uint32
	Inode   uint32
	Cookie  uint64 // idiag_cookie, as bpf_get_socket_cookie gives it
	// Birth is the value of the socket storage map the request asked
	// for (the recorder's birth time, boot clock ns), 0 if none.
	Birth uint64
	// V6Only is the INET_DIAG_SKV6ONLY attribute's value (IPV6_V6ONLY on)
	// and HasV6Only whether the message had it (AF_INET6 sockets in LISTEN
	// or CLOSE).
	V6Only, HasV6Only bool
	// Info is the INET_DIAG_INFO attribute's payload (struct tcp_info, as
	// long as the running kernel makes it), nil when the message has none:
	// not requested, or a TIME-WAIT or request socket. It points into the
	// datagram and is valid only during the callback that receives the row.
	Info []byte
}

// buildDiagRequest returns a complete netlink message: a dump request
// (NLM_F_REQUEST|NLM_F_DUMP) of the TCP sockets of family whose kernel state
// is in the states bitmask, asking for the extensions in the idiag_ext
// bitmask ext (0, or extInfo for tcp_info). Family afUnspec asks for both
// families in one request (buildCompatRequest).
func buildDiagRequest(dst []byte, family uint8, states uint32, ext uint8, seq uint32) []byte {
	if family == afUnspec {
		return buildCompatRequest(dst, states, ext, seq)
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
	r[2] = ext        // idiag_ext
	ne.PutUint32(r[4:], states)
	// inet_diag_sockid left zero except the cookie, INET_DIAG_NOCOOKIE.
	ne.PutUint32(r[48:], ^uint32(0))
	ne.PutUint32(r[52:], ^uint32(0))
	return b
}

// appendStorageReq adds to a request built by buildDiagRequest the
// attribute that asks the kernel to report, with each socket, its value in
// the socket storage map with descriptor fd.
func appendStorageReq(b []byte, fd int) []byte {
	ne := binary.NativeEndian
	const inner, outer = nlaHdrLen + 4, nlaHdrLen + nlaHdrLen + 4
	b = ne.AppendUint16(b, outer)
	b = ne.AppendUint16(b, inetDiagReqSkBPFStorages|0x8000) // NLA_F_NESTED
	b = ne.AppendUint16(b, inner)
	b = ne.AppendUint16(b, skDiagBPFStorageReqMapFD)
	b = ne.AppendUint32(b, uint32(fd))
	ne.PutUint32(b[0:], uint32(len(b)))
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
	var row diagRow
	return parseDiagInto(b, seq, &row, fn)
}

// parseDiagInto is parseDiag decoding every message into row, which the
// caller keeps across calls: fn may let it escape, and a row per call
// would be an allocation per datagram.
func parseDiagInto(b []byte, seq uint32, row *diagRow, fn func(*diagRow)) (dumpStatus, error) {
	var st dumpStatus
	ne := binary.NativeEndian
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
			if err := decodeDiagMsg(payload, row); err != nil {
				return st, fmt.Errorf("%w at offset %d", err, off)
			}
			fn(row)
		default:
			return st, fmt.Errorf("%w: unexpected message type %d at offset %d", errMalformed, typ, off)
		}
	}
	return st, nil
}

// decodeDiagMsg fills r from an inet_diag_msg of at least inetDiagMsgLen
// bytes and the attributes after it. Ports and addresses are big-endian on
// the wire; the rest is in host order. Of the attributes INET_DIAG_INFO is
// kept (in r.Info, without copying), the socket storage value decoded
// (r.Birth) and INET_DIAG_SKV6ONLY (r.V6Only, r.HasV6Only); attributes
// that overrun the message, or an empty INET_DIAG_SKV6ONLY, are an error
// wrapping errMalformed.
func decodeDiagMsg(p []byte, r *diagRow) error {
	ne := binary.NativeEndian
	r.Family = p[0]
	r.State = p[1]
	r.SPort = binary.BigEndian.Uint16(p[4:])
	r.DPort = binary.BigEndian.Uint16(p[6:])
	copy(r.Src[:], p[8:24])
	copy(r.Dst[:], p[24:40])
	r.IfIndex = ne.Uint32(p[40:])
	// The cookie is two host-order words, low first.
	r.Cookie = uint64(ne.Uint32(p[44:])) | uint64(ne.Uint32(p[48:]))<<32
	// p[52:56] expires.
	r.RQueue = ne.Uint32(p[56:])
	r.WQueue = ne.Uint32(p[60:])
	r.UID = ne.Uint32(p[64:])
	r.Inode = ne.Uint32(p[68:])
	r.Info, r.Birth, r.V6Only, r.HasV6Only = nil, 0, false, false
	return walkAttrs(p[inetDiagMsgLen:], func(typ uint16, v []byte) error {
		switch typ {
		case inetDiagInfo:
			r.Info = v[:len(v):len(v)]
		case inetDiagSkBPFStorages:
			r.Birth = storageValue(v)
		case inetDiagSkV6Only:
			if len(v) < 1 {
				return fmt.Errorf("%w: INET_DIAG_SKV6ONLY attribute without a value", errMalformed)
			}
			r.V6Only, r.HasV6Only = v[0] != 0, true
		}
		return nil
	})
}

// storageValue returns the first 8 bytes of the first socket storage
// value in b, the payload of an INET_DIAG_SK_BPF_STORAGES attribute
// (SK_DIAG_BPF_STORAGE -> SK_DIAG_BPF_STORAGE_MAP_VALUE), or 0. Malformed
// nested attributes end the search: they are not what the provider asked
// for.
func storageValue(b []byte) uint64 {
	if v := nlaFind(b, skDiagBPFStorage); v != nil {
		if v = nlaFind(v, skDiagBPFStorageMapValue); len(v) >= 8 {
			return binary.NativeEndian.Uint64(v)
		}
	}
	return 0
}

// walkAttrs calls fn for each netlink attribute (struct nlattr) in b, in
// order, with its type (flags masked off) and value, until fn returns an
// error, which it returns. An attribute that overruns b, or trailing bytes
// shorter than an attribute header, are an error wrapping errMalformed.
func walkAttrs(b []byte, fn func(typ uint16, v []byte) error) error {
	ne := binary.NativeEndian
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < nlaHdrLen {
			return fmt.Errorf("%w: %d trailing attribute bytes", errMalformed, len(rest))
		}
		alen := int(ne.Uint16(rest[0:]))
		if alen < nlaHdrLen || alen > len(rest) {
			return fmt.Errorf("%w: attribute of length %d with %d bytes left in its message", errMalformed, alen, len(rest))
		}
		if err := fn(ne.Uint16(rest[2:])&nlaTypeMask, rest[nlaHdrLen:alen]); err != nil {
			return err
		}
		off += align(alen)
	}
	return nil
}

// errFound stops walkAttrs in nlaFind.
var errFound = errors.New("found")

// nlaFind returns the payload of the first attribute of type typ in b, or
// nil (also when b is malformed before it).
func nlaFind(b []byte, typ uint16) []byte {
	var found []byte
	err := walkAttrs(b, func(t uint16, v []byte) error {
		if t != typ {
			return nil
		}
		found = v
		return errFound
	})
	if err != errFound {
		return nil
	}
	return found
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
