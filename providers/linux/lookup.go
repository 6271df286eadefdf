package linux

import (
	"encoding/binary"
	"fmt"
	"syscall"
)

// Exact requests: a point lookup of one socket, and SOCK_DESTROY. Kill
// uses both; the trace's sock_diag source looks up the TIME-WAIT
// minisocket that takes a connection over. The encoding and decoding are
// here, untagged; diagConn.exact (netlink_linux.go) sends and receives.

// The constants of exact requests (linux/sock_diag.h, linux/inet_diag.h),
// beside the dump's in diag.go.
const (
	sockDestroy = 21 // SOCK_DESTROY
	nlmFAck     = 0x4

	inetDiagNoCookie = ^uint64(0) // INET_DIAG_NOCOOKIE in both words
	inetDiagULPInfo  = 19         // INET_DIAG_ULP_INFO (nested), sent with INET_DIAG_INFO
	inetULPInfoName  = 1          // INET_ULP_INFO_NAME
)

// sockID names one socket to the kernel as inet_diag_sockid does: the
// family, both ends, the interface and the cookie (inetDiagNoCookie: any
// socket with these ends). Addresses are in the first 4 bytes for AF_INET;
// ports are in host order here and big-endian on the wire.
type sockID struct {
	Family  uint8
	SPort   uint16
	DPort   uint16
	Src     [16]byte
	Dst     [16]byte
	IfIndex uint32
	Cookie  uint64
}

// id returns the identity of the socket with r's ends and interface,
// without a cookie.
func (r *diagRow) id() sockID {
	return sockID{Family: r.Family, SPort: r.SPort, DPort: r.DPort, Src: r.Src, Dst: r.Dst,
		IfIndex: r.IfIndex, Cookie: inetDiagNoCookie}
}

// buildExactRequest returns a complete netlink message that names one
// socket: typ sockDiagByFamily without NLM_F_DUMP is a point lookup (the
// kernel's inet_diag_find_one_icsk, answered with one inet_diag_msg or an
// error), typ sockDestroy with NLM_F_ACK ends the socket (answered with an
// acknowledgement or an error). ext is the idiag_ext bitmask of the
// extensions a lookup asks for; idiag_states is 0, which the kernel ignores
// for one socket (a lookup finds the socket in whatever state it is).
func buildExactRequest(dst []byte, typ uint16, id *sockID, ext uint8, seq uint32) []byte {
	const total = nlmsgHdrLen + inetDiagReqLen
	b := append(dst[:0], make([]byte, total)...)
	ne := binary.NativeEndian
	flags := uint16(nlmFRequest)
	if typ == sockDestroy {
		flags |= nlmFAck
	}
	ne.PutUint32(b[0:], total)
	ne.PutUint16(b[4:], typ)
	ne.PutUint16(b[6:], flags)
	ne.PutUint32(b[8:], seq)
	r := b[nlmsgHdrLen:]
	r[0] = id.Family
	r[1] = ipprotoTCP
	r[2] = ext
	// r[4:8] idiag_states 0. Then struct inet_diag_sockid:
	binary.BigEndian.PutUint16(r[8:], id.SPort)
	binary.BigEndian.PutUint16(r[10:], id.DPort)
	copy(r[12:28], id.Src[:])
	copy(r[28:44], id.Dst[:])
	ne.PutUint32(r[44:], id.IfIndex)
	// The cookie is two host-order words, low first, as decodeDiagMsg reads it.
	ne.PutUint32(r[48:], uint32(id.Cookie))
	ne.PutUint32(r[52:], uint32(id.Cookie>>32))
	return b
}

// exactAnswer is the kernel's answer to one exact request.
type exactAnswer struct {
	Found bool    // a lookup found the socket: Row (with its Cookie) and ULP are set
	Acked bool    // a destroy was acknowledged
	Row   diagRow // the socket as the kernel reports it
	ULP   string  // the upper-layer protocol (INET_DIAG_ULP_INFO name), when asked for and set: "mptcp", "tls"
}

// parseExact decodes the answer of sequence seq to an exact request from b
// (the bytes of one recvmsg). done is false when b holds only messages of
// other sequences (left over from an abandoned request), which are
// skipped. An NLMSG_ERROR with a negative code is returned as the errno
// (syscall.Errno); bytes that do not parse are an error wrapping
// errMalformed. It never panics.
func parseExact(b []byte, seq uint32) (a exactAnswer, done bool, err error) {
	ne := binary.NativeEndian
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < nlmsgHdrLen {
			return a, false, fmt.Errorf("%w: %d trailing bytes at offset %d, shorter than a header", errMalformed, len(rest), off)
		}
		mlen := int(ne.Uint32(rest[0:]))
		typ := ne.Uint16(rest[4:])
		mseq := ne.Uint32(rest[8:])
		if mlen < nlmsgHdrLen || mlen > len(rest) {
			return a, false, fmt.Errorf("%w: message length %d at offset %d (%d bytes left)", errMalformed, mlen, off, len(rest))
		}
		payload := rest[nlmsgHdrLen:mlen]
		off += align(mlen)
		if mseq != seq {
			continue
		}
		switch typ {
		case nlmsgNoop:
			continue
		case nlmsgError:
			if len(payload) < 4 {
				return a, false, fmt.Errorf("%w: NLMSG_ERROR of %d bytes at offset %d", errMalformed, len(payload), off)
			}
			if code := int32(ne.Uint32(payload)); code != 0 {
				return a, true, syscall.Errno(-int64(code))
			}
			a.Acked = true
			return a, true, nil
		case sockDiagByFamily:
			if len(payload) < inetDiagMsgLen {
				return a, false, fmt.Errorf("%w: inet_diag_msg of %d bytes (want %d) at offset %d", errMalformed, len(payload), inetDiagMsgLen, off)
			}
			if err := decodeDiagMsg(payload, &a.Row); err != nil {
				return a, false, err
			}
			a.Row.Info = nil // it points into the receive buffer
			if a.ULP, err = ulpName(payload[inetDiagMsgLen:]); err != nil {
				return a, false, err
			}
			a.Found = true
			return a, true, nil
		default:
			return a, false, fmt.Errorf("%w: unexpected message type %d at offset %d", errMalformed, typ, off)
		}
	}
	return a, false, nil
}

// ulpName returns the INET_ULP_INFO_NAME inside the INET_DIAG_ULP_INFO
// attribute of attrs (the attributes after an inet_diag_msg), or "" if
// there is none.
func ulpName(attrs []byte) (string, error) {
	var name string
	err := walkAttrs(attrs, func(typ uint16, v []byte) error {
		if typ != inetDiagULPInfo {
			return nil
		}
		return walkAttrs(v, func(typ uint16, v []byte) error {
			if typ == inetULPInfoName {
				name = cString(v)
			}
			return nil
		})
	})
	return name, err
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
