package events

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what a Record reports.
type Kind uint8

// The record kinds (the program's KIND_* values).
const (
	// KindState: a full socket changed state from Old to New. New is the
	// kernel's TCP_CLOSE (7) when the socket ended, and a TIME-WAIT
	// minisocket's substate (TIME_WAIT or FIN_WAIT2) when one took the
	// connection over.
	KindState Kind = 1
	// KindOwner: the socket's owner changed from Prev to Owner (accept,
	// close); Old equals New, the current state.
	KindOwner Kind = 2
)

// OwnerKind says what an Owner holds.
type OwnerKind uint8

// The owner kinds (the program's OWNER_* values).
const (
	// OwnerUnknown: not attributed (the socket predates the recorder, or
	// the map of sockets was full).
	OwnerUnknown OwnerKind = 0
	// OwnerProcess: PID, Start and Comm name the owning process.
	OwnerProcess OwnerKind = 1
	// OwnerKernel: no process holds the socket (a child in the accept
	// queue, an orphan after close, a TIME-WAIT minisocket), or a kernel
	// thread opened it.
	OwnerKernel OwnerKind = 2
)

// Owner is a socket's owner as the kernel saw it in the process-context
// call that attributed it.
type Owner struct {
	Kind OwnerKind
	// PID is the thread group ID of the process.
	PID uint32
	// Start is the process's start time, nanoseconds of the boot clock
	// (task_struct.start_boottime of the group leader): with PID it
	// identifies the process even after the PID is reused.
	Start uint64
	// Comm is the group leader's name, as /proc/PID/comm shows it (at
	// most 15 bytes), when the owner was attributed.
	Comm string
}

// Record is one change the programs reported.
type Record struct {
	Kind Kind
	// Time is when the kernel made the change, in nanoseconds of the boot
	// clock (bpf_ktime_get_boot_ns, CLOCK_BOOTTIME).
	Time uint64
	// Cookie is the socket cookie (sock_diag's idiag_cookie).
	Cookie uint64
	// Birth is when the socket was born (boot clock, ns), 0 if the
	// recorder did not see it.
	Birth uint64
	// Lost is how many records the ring buffer had dropped, in total,
	// when this one was written.
	Lost uint64
	// Owner is the owner after the change, Prev the one before.
	Owner, Prev Owner
	// Family is AF_INET (2) or AF_INET6 (10).
	Family uint8
	// Old and New are kernel TCP states (1 ESTABLISHED ... 12 NEW_SYN_RECV).
	Old, New uint8
	// TimeWait is set on the KindState record of a connection that a
	// TIME-WAIT minisocket took over: New is its substate (TIME_WAIT, or
	// FIN_WAIT2 while the peer's FIN is awaited), and the row lives on
	// until the minisocket ends, which no tracepoint reports.
	TimeWait bool
	// V6Only is the IPV6_V6ONLY option of an AF_INET6 socket (sock_diag's
	// INET_DIAG_SKV6ONLY): one bound to :: with it off is dual stack.
	V6Only bool
	// SPort and DPort are the local and remote ports, host order.
	SPort, DPort uint16
	// Src and Dst are the local and remote addresses, network order;
	// IPv4 uses the first 4 bytes.
	Src, Dst [16]byte
	// Inode is the socket inode, 0 for a socket no descriptor refers to.
	Inode uint32
	// UID is the socket's sk_uid.
	UID uint32
	// IfIndex is the device the socket is bound to (sk_bound_dev_if).
	IfIndex uint32
}

// RecordSize is the size of the program's struct record.
const RecordSize = 152

// The program's FLAG_* bits (struct record's flags).
const (
	flagTimeWait = 1
	flagV6Only   = 2
)

// ownerSize is the size of the program's struct owner.
const ownerSize = 32

// ErrMalformed is wrapped by Decode's errors.
var ErrMalformed = errors.New("malformed tracer record")

// Decode fills r from one ring buffer sample, in the byte order of the
// host that wrote it. It never panics: a sample of the wrong size or with
// an unknown kind is an error wrapping ErrMalformed.
func Decode(b []byte, r *Record) error {
	var d Decoder
	return d.Decode(b, r)
}

// Decoder decodes records as Decode does, remembering the last few
// process names it made strings of, so that decoding the records of the
// same processes over and over allocates nothing.
type Decoder struct {
	names [8]string
	next  int
}

// Decode is the package's Decode, with d's names.
func (d *Decoder) Decode(b []byte, r *Record) error {
	if len(b) != RecordSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrMalformed, len(b), RecordSize)
	}
	ne := binary.NativeEndian
	r.Time = ne.Uint64(b[0:])
	r.Cookie = ne.Uint64(b[8:])
	r.Birth = ne.Uint64(b[16:])
	r.Lost = ne.Uint64(b[24:])
	d.decodeOwner(b[32:32+ownerSize], &r.Owner)
	d.decodeOwner(b[64:64+ownerSize], &r.Prev)
	copy(r.Src[:], b[96:112])
	copy(r.Dst[:], b[112:128])
	r.Inode = ne.Uint32(b[128:])
	r.UID = ne.Uint32(b[132:])
	r.IfIndex = ne.Uint32(b[136:])
	r.SPort = ne.Uint16(b[140:])
	r.DPort = ne.Uint16(b[142:])
	r.Family = uint8(ne.Uint16(b[144:]))
	r.Kind = Kind(b[146])
	r.Old = b[147]
	r.New = b[148]
	r.TimeWait = b[149]&flagTimeWait != 0
	r.V6Only = b[149]&flagV6Only != 0
	if r.Kind < KindState || r.Kind > KindOwner {
		return fmt.Errorf("%w: unknown kind %d", ErrMalformed, r.Kind)
	}
	return nil
}

// decodeOwner fills o from a struct owner.
func (d *Decoder) decodeOwner(b []byte, o *Owner) {
	ne := binary.NativeEndian
	o.Start = ne.Uint64(b[0:])
	o.PID = ne.Uint32(b[8:])
	o.Kind = OwnerKind(b[12])
	comm := b[16:32]
	n := 0
	for n < len(comm) && comm[n] != 0 {
		n++
	}
	o.Comm = d.name(comm[:n])
}

// name returns b as a string, one of d's if it has it.
func (d *Decoder) name(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, s := range d.names {
		if s == string(b) {
			return s
		}
	}
	s := string(b)
	d.names[d.next] = s
	d.next = (d.next + 1) % len(d.names)
	return s
}
