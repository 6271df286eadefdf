package linux

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// recvBufLen is the receive buffer. The kernel fills a dump datagram up to
// 32 KiB (SKB_WITH_OVERHEAD(32768)); a datagram that does not fit is
// detected with MSG_TRUNC and reported, never silently cut.
const recvBufLen = 64 << 10

// diagConn is a NETLINK_SOCK_DIAG socket with its reused buffers.
type diagConn struct {
	fd  int
	seq uint32
	buf []byte
	req []byte
	row diagRow // the decoded message, reused
	// storageFD, when not -1, is a socket storage map whose values dump
	// asks the kernel to report with each socket (diagRow.Birth).
	storageFD int
}

// openDiag opens a sock_diag socket in the calling thread's network
// namespace.
func openDiag() (*diagConn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return nil, fmt.Errorf("netlink sock_diag socket: %w", err)
	}
	// A receive timeout guards against a kernel that never answers.
	tv := unix.Timeval{Sec: 30}
	_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind sock_diag socket: %w", err)
	}
	return &diagConn{fd: fd, buf: make([]byte, recvBufLen), storageFD: -1}, nil
}

func (d *diagConn) close() error { return unix.Close(d.fd) }

// errDumpAborted marks a dump left unfinished (context cancelled): the
// socket still holds the rest of it and must not be reused.
var errDumpAborted = errors.New("sock_diag dump abandoned")

// dump asks for the TCP sockets of family in the kernel states of the
// states bitmask, with the idiag_ext extensions ext, and calls fn for each,
// reading the multipart answer until NLMSG_DONE. interrupted reports
// NLM_F_DUMP_INTR.
func (d *diagConn) dump(ctx context.Context, family uint8, states uint32, ext uint8, fn func(*diagRow)) (interrupted bool, err error) {
	d.seq++
	d.req = buildDiagRequest(d.req, family, states, ext, d.seq)
	if d.storageFD >= 0 {
		d.req = appendStorageReq(d.req, d.storageFD)
	}
	if err := unix.Sendto(d.fd, d.req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return false, fmt.Errorf("send sock_diag request: %w", err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return interrupted, fmt.Errorf("%w: %w", errDumpAborted, err)
		}
		n, err := d.recv()
		if err != nil {
			return interrupted, fmt.Errorf("%w: receive sock_diag dump: %w", errDumpAborted, err)
		}
		st, err := parseDiagInto(d.buf[:n], d.seq, &d.row, fn)
		interrupted = interrupted || st.Interrupted
		if err != nil {
			if !st.Done {
				err = fmt.Errorf("%w: %w", errDumpAborted, err)
			}
			return interrupted, err
		}
		if st.Done {
			return interrupted, nil
		}
	}
}

// recv reads one datagram into d.buf without allocating.
func (d *diagConn) recv() (int, error) {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVFROM, uintptr(d.fd), uintptr(unsafe.Pointer(&d.buf[0])),
			uintptr(len(d.buf)), unix.MSG_TRUNC, 0, 0)
		switch {
		case e == unix.EINTR:
			continue
		case e != 0:
			return 0, e
		case int(n) > len(d.buf):
			return 0, fmt.Errorf("datagram of %d bytes truncated to the %d-byte buffer", n, len(d.buf))
		}
		return int(n), nil
	}
}

// errExchangeAborted marks an exact request whose answer was not read to
// its end: the socket must not be reused.
var errExchangeAborted = errors.New("sock_diag exchange abandoned")

// exact sends one exact request and reads its answer: an exchange. An
// answer that cannot be read to its end is an error wrapping
// errExchangeAborted.
func (d *diagConn) exact(ctx context.Context, typ uint16, id *sockID, ext uint8) (exactAnswer, error) {
	if err := ctx.Err(); err != nil {
		return exactAnswer{}, err
	}
	d.seq++
	d.req = buildExactRequest(d.req, typ, id, ext, d.seq)
	if err := unix.Sendto(d.fd, d.req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return exactAnswer{}, fmt.Errorf("send sock_diag request: %w", err)
	}
	for {
		n, err := d.recv()
		if err != nil {
			return exactAnswer{}, fmt.Errorf("%w: receive sock_diag answer: %w", errExchangeAborted, err)
		}
		a, done, err := parseExact(d.buf[:n], d.seq)
		switch {
		case err != nil && !done:
			return a, fmt.Errorf("%w: %w", errExchangeAborted, err)
		case done:
			return a, err
		}
	}
}
