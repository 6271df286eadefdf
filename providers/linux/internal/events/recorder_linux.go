package events

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/tcptable/tcptable/providers/linux/internal/fditer"
)

// Options configures Open.
type Options struct {
	// NetNS is the inode of the network namespace whose sockets are
	// recorded; every other namespace's are ignored in the kernel.
	NetNS uint64
	// RingSize is the ring buffer's size in bytes, rounded up to a power
	// of two of at least a page; 0 means DefaultRingSize.
	RingSize int
	// AcceptBTF makes accept attribution use tp_btf/sys_exit even where
	// the syscalls tracepoints of accept and accept4 are in tracefs.
	AcceptBTF bool
	// TimeWaitSlots sizes the table of the births of connections that
	// TIME-WAIT minisockets took over (see TimeWaitBirths): about that
	// many slots of 16 bytes, shared out among the CPUs (a power of two
	// each, at least 1,024); 0 means DefaultTimeWaitSlots.
	TimeWaitSlots int
}

// twSlotSize is the size of the program's struct tw_slot.
const twSlotSize = 16

// DefaultRingSize is the ring buffer's default size: 4 MiB, about 27,000
// records, which absorbs a burst of 4,000 connection lifecycles while the
// reader is not scheduled.
const DefaultRingSize = 4 << 20

// vmlinuxBTF is the kernel's own BTF, which the CO-RE relocations and the
// BTF-typed attachments need.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// Recorder is the loaded and attached program set of one namespace.
type Recorder struct {
	opts     Options
	objs     tracerObjects
	links    []link.Link
	accept   []link.Link // accept attribution, attached while tracing
	ring     *ringbuf.Reader
	clock    Clock
	rec      ringbuf.Record
	dec      Decoder
	deadline time.Time // the ring's
	tw       *TimeWaitBirths
	born     bool // the program recorded a birth
}

// Open checks the privileges, loads the programs and attaches them. Its
// errors say in one line why tracing is not possible here: no BTF, no
// CAP_BPF/CAP_PERFMON (or CAP_SYS_ADMIN), a kernel without one of the hooks
// (each error names the hook).
func Open(o Options) (*Recorder, error) {
	if err := fditer.BPFCapable(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(vmlinuxBTF); err != nil {
		return nil, fmt.Errorf("kernel without BTF (%s): %w", vmlinuxBTF, err)
	}
	// Before Linux 5.11 BPF memory counts against RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("raise RLIMIT_MEMLOCK: %w", err)
	}
	clock, err := MeasureClock()
	if err != nil {
		return nil, err
	}
	spec, err := loadTracer()
	if err != nil {
		return nil, fmt.Errorf("parse the tracer object: %w", err)
	}
	spec.Maps[tracerMapEvents].MaxEntries = uint32(ringSize(o.RingSize))
	cpus, err := ebpf.PossibleCPU()
	if err != nil {
		return nil, fmt.Errorf("count the CPUs: %w", err)
	}
	perCPU := twSlotsPerCPU(o.TimeWaitSlots, cpus)
	if vs := spec.Maps[tracerMapTwBirths].ValueSize; vs != twSlotSize {
		return nil, fmt.Errorf("the tracer object's TIME-WAIT slots are %d bytes, not %d", vs, twSlotSize)
	}
	spec.Maps[tracerMapTwBirths].MaxEntries = uint32(perCPU*cpus + cpus)
	if vs := spec.Maps[tracerMapSkInfo].ValueSize; vs < 8 {
		return nil, fmt.Errorf("the tracer object's socket storage is %d bytes, not a birth time and more", vs)
	}
	for _, v := range []struct {
		name  string
		value any
	}{
		{tracerVarTwSlots, uint32(perCPU)},
		{tracerVarTwRings, uint32(cpus)},
		{tracerVarAcceptNr, acceptNR},
		{tracerVarAccept4Nr, accept4NR},
		// Records wake the reader when the ring is an eighth full.
		{tracerVarWakeAt, uint64(spec.Maps[tracerMapEvents].MaxEntries / 8)},
	} {
		if err := spec.Variables[v.name].Set(v.value); err != nil {
			return nil, fmt.Errorf("configure the tracer: %w", err)
		}
	}
	r := &Recorder{clock: clock, opts: o}
	if err := spec.LoadAndAssign(&r.objs, nil); err != nil {
		return nil, fmt.Errorf("load the tracer programs: %w", shortVerifierError(err))
	}
	if err := r.objs.Settings.Put(uint32(0), tracerConfig{Netns: o.NetNS}); err != nil {
		r.Close()
		return nil, fmt.Errorf("configure the tracer: %w", err)
	}
	if r.tw, err = mapTimeWaitBirths(r.objs.TwBirths.FD(), perCPU, cpus); err != nil {
		r.Close()
		return nil, err
	}
	for _, p := range []struct {
		name string
		prog *ebpf.Program
	}{
		// The resets first: a state change must not find a socket that
		// ends by a reset unmarked.
		{"tp_btf/tcp_receive_reset", r.objs.OnReceiveReset},
		{"tp_btf/tcp_send_reset", r.objs.OnSendReset},
		{"tp_btf/inet_sock_set_state", r.objs.OnState},
	} {
		l, err := link.AttachTracing(link.TracingOptions{Program: p.prog})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("attach %s: %w", p.name, err)
		}
		r.links = append(r.links, l)
	}
	if r.ring, err = ringbuf.NewReader(r.objs.Events); err != nil {
		r.Close()
		return nil, fmt.Errorf("open the ring buffer: %w", err)
	}
	return r, nil
}

// ringSize rounds n up to a power of two of at least a page (0:
// DefaultRingSize), as the kernel requires, capped at 1 GiB.
func ringSize(n int) int {
	if n <= 0 {
		return DefaultRingSize
	}
	size := os.Getpagesize()
	for size < n && size < 1<<30 {
		size <<= 1
	}
	return size
}

// shortVerifierError keeps the first line of a verifier log: the kernel's
// whole log would make a one-line reason a page.
func shortVerifierError(err error) error {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) && len(ve.Log) > 0 {
		return fmt.Errorf("%w (verifier: %s)", ve.Cause, ve.Log[len(ve.Log)-1])
	}
	return err
}

// Clock returns the boot-clock to wall-time conversion measured at Open.
func (r *Recorder) Clock() Clock { return r.clock }

// RingSize returns the ring buffer's size in bytes.
func (r *Recorder) RingSize() int { return r.ring.BufferSize() }

// SetFilter makes the programs write the records f lets through; tracing
// false stops them writing any (births and owners are kept either way).
// While tracing, the accept attribution program runs at every system
// call's exit (it returns at once for all but accept and accept4); it is
// detached when tracing stops. An error attaching it leaves accepted
// sockets owned by the kernel until their owner closes them, and is
// returned.
func (r *Recorder) SetFilter(f Filter, tracing bool) error {
	if err := r.attachAccept(tracing); err != nil {
		return err
	}
	var c tracerConfig
	if err := r.objs.Settings.Lookup(uint32(0), &c); err != nil {
		return fmt.Errorf("read the tracer configuration: %w", err)
	}
	c.Families, c.States = f.Families, f.States
	c.Lport, c.Rport, c.Port = f.LocalPort, f.RemotePort, f.Port
	if tracing && c.Tracing == 0 {
		// A new trace: sockets born before it may get entries in
		// the children map (see the program's unlist).
		c.Epoch++
	}
	c.Tracing = 0
	if tracing {
		c.Tracing = 1
	}
	if err := r.objs.Settings.Put(uint32(0), c); err != nil {
		return fmt.Errorf("configure the tracer: %w", err)
	}
	return nil
}

// ErrTimeout is returned by Read when the deadline passed without a
// record.
var ErrTimeout = os.ErrDeadlineExceeded

// Read waits until deadline (zero: for ever) for the next record and
// decodes it into rec. It returns ErrTimeout when the deadline passed, and
// an error wrapping ringbuf.ErrClosed after Close.
func (r *Recorder) Read(rec *Record, deadline time.Time) error {
	if !deadline.Equal(r.deadline) {
		r.ring.SetDeadline(deadline)
		r.deadline = deadline
	}
	if err := r.ring.ReadInto(&r.rec); err != nil {
		return err
	}
	return r.dec.Decode(r.rec.RawSample, rec)
}

// Lost returns how many records the ring buffer dropped in total.
func (r *Recorder) Lost() (uint64, error) { return r.counter(0) }

// Missed returns how many times the kernel skipped one of the programs
// because it was already running on that CPU (a softirq that interrupted
// it, for example): each miss is a state change, reset mark or accept
// not recorded. It needs Linux 5.12; earlier kernels do not count.
func (r *Recorder) Missed() (uint64, error) {
	var n uint64
	for _, p := range []*ebpf.Program{r.objs.OnState, r.objs.OnReceiveReset, r.objs.OnSendReset, r.objs.OnSysExit} {
		st, err := p.Stats()
		if err != nil {
			return 0, fmt.Errorf("read the tracer's statistics: %w", err)
		}
		n += st.RecursionMisses
	}
	return n, nil
}

// Unrecorded returns how many sockets were not recorded because the
// kernel had no memory for their storage.
func (r *Recorder) Unrecorded() (uint64, error) { return r.counter(1) }

func (r *Recorder) counter(i uint32) (uint64, error) {
	var n uint64
	if err := r.objs.Counters.Lookup(i, &n); err != nil {
		return 0, fmt.Errorf("read the tracer's counters: %w", err)
	}
	return n, nil
}

// Close detaches the programs and releases the maps. Read in progress
// returns.
func (r *Recorder) Close() error {
	var errs []error
	if r.ring != nil {
		errs = append(errs, r.ring.Close())
	}
	errs = append(errs, r.attachAccept(false))
	for _, l := range r.links {
		errs = append(errs, l.Close())
	}
	r.links = nil
	errs = append(errs, r.objs.Close())
	return errors.Join(errs...)
}

// BirthStorageFD returns the descriptor of the socket storage map whose
// values begin with each full socket's birth time (boot clock, ns, host
// order), for sock_diag requests that ask for it
// (INET_DIAG_REQ_SK_BPF_STORAGES).
func (r *Recorder) BirthStorageFD() int { return r.objs.SkInfo.FD() }

// BornAny reports whether the programs have recorded the birth of any
// socket since Open.
func (r *Recorder) BornAny() bool {
	if !r.born {
		var b uint8
		r.born = r.objs.BornAny.Get(&b) == nil && b != 0
	}
	return r.born
}

// TimeWaitBirths returns the reader of the births of the connections
// TIME-WAIT minisockets took over; see TimeWaitBirths. It stays usable
// after Close (its memory is unmapped once nothing refers to it), and
// then learns no further births.
func (r *Recorder) TimeWaitBirths() *TimeWaitBirths { return r.tw }

// mapTimeWaitBirths maps the TIME-WAIT birth table (map fd: rings rings
// of perCPU slots and their counts) read-only into memory. The mapping is
// undone when the returned reader is no longer referred to.
func mapTimeWaitBirths(fd, perCPU, rings int) (*TimeWaitBirths, error) {
	size := (perCPU*rings + rings) * twSlotSize
	page := os.Getpagesize()
	b, err := unix.Mmap(fd, 0, (size+page-1)/page*page, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map the TIME-WAIT birth table: %w", err)
	}
	keep := &mapping{}
	runtime.AddCleanup(keep, func(b []byte) { _ = unix.Munmap(b) }, b)
	words := unsafe.Slice((*uint64)(unsafe.Pointer(&b[0])), size/8)
	return newTimeWaitBirths(words, uint64(perCPU), uint64(rings), keep), nil
}

// mapping is the object whose collection unmaps a table.
type mapping struct{ _ byte }

// attachAccept attaches or detaches the accept attribution: the
// programs of the syscalls:sys_exit_accept and sys_exit_accept4
// tracepoints where tracefs has them (only those two calls run a
// program), tp_btf/sys_exit otherwise (every system call's exit runs it).
func (r *Recorder) attachAccept(on bool) error {
	switch {
	case on && r.accept == nil && acceptNR >= 0:
		if !r.opts.AcceptBTF {
			var ls []link.Link
			for _, name := range []string{"sys_exit_accept4", "sys_exit_accept"} {
				l, err := link.Tracepoint("syscalls", name, r.objs.OnAcceptExit, nil)
				if err != nil {
					break
				}
				ls = append(ls, l)
			}
			if len(ls) == 2 {
				r.accept = ls
				return nil
			}
			for _, l := range ls {
				l.Close()
			}
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: r.objs.OnSysExit})
		if err != nil {
			return fmt.Errorf("attach tp_btf/sys_exit: %w", err)
		}
		r.accept = []link.Link{l}
	case !on && r.accept != nil:
		var errs []error
		for _, l := range r.accept {
			errs = append(errs, l.Close())
		}
		r.accept = nil
		return errors.Join(errs...)
	}
	return nil
}

// AcceptHook names the hook of the accept attribution while tracing:
// "syscalls:sys_exit_accept4" (and sys_exit_accept), "tp_btf/sys_exit",
// or "" (not attached).
func (r *Recorder) AcceptHook() string {
	switch len(r.accept) {
	case 2:
		return "syscalls:sys_exit_accept4"
	case 1:
		return "tp_btf/sys_exit"
	}
	return ""
}
