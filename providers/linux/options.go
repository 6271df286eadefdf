package linux

import (
	"os"
	"strconv"
	"time"

	"github.com/tcptable/tcptable/providers/internal/option"
)

// Source selects where the provider reads the socket table from.
type Source uint8

// The sources.
const (
	// SourceAuto uses netlink sock_diag and falls back to /proc/net/tcp
	// when sock_diag is not available (no inet_diag support, EPERM under a
	// seccomp filter, some sandboxes). It is the default.
	SourceAuto Source = iota
	// SourceNetlink uses netlink sock_diag only; Table fails if it cannot.
	SourceNetlink
	// SourceProcNet reads /proc/net/tcp and /proc/net/tcp6 only.
	SourceProcNet
)

// String returns "auto", "netlink", "procnet" or "Source(N)".
func (s Source) String() string {
	return enumName([]string{"auto", "netlink", "procnet"}, "Source", uint8(s))
}

// enumName returns names[v], or "typ(v)" for a value without a name.
func enumName(names []string, typ string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// OwnerScan selects how the provider finds the processes that hold each
// socket.
type OwnerScan uint8

// The owner scans.
const (
	// OwnerScanAuto uses OwnerScanBPF where the kernel and the caller allow
	// it and OwnerScanProcfs otherwise. It is the default.
	OwnerScanAuto OwnerScan = iota
	// OwnerScanBPF has the kernel list every socket descriptor of every
	// process in one pass, through a BPF program on its task_file
	// iterator: about ten times cheaper per descriptor than /proc, it
	// also sees the file tables of threads that unshared theirs (which
	// /proc/PID/fd does not show), and it is served from the owner cache
	// between scans like OwnerScanProcfs. Sockets it leaves without an
	// owner are looked for in /proc too (a kernel may hide a process from
	// BPF iterators). It needs Linux 5.8 or later with BTF
	// (/sys/kernel/btf/vmlinux), CAP_BPF and CAP_PERFMON (or
	// CAP_SYS_ADMIN, as root has), the initial PID namespace, and the
	// default /proc root; New fails with an error wrapping
	// tcptable.ErrNotSupported where it cannot be used.
	OwnerScanBPF
	// OwnerScanProcfs reads /proc/PID/fd of the processes, with the owner
	// cache (see WithoutOwnerCache): what an unprivileged caller can do.
	OwnerScanProcfs
)

// String returns "auto", "bpf", "procfs" or "OwnerScan(N)".
func (s OwnerScan) String() string {
	return enumName([]string{"auto", "bpf", "procfs"}, "OwnerScan", uint8(s))
}

// Option configures New. An option given an argument it cannot use makes
// New fail with an error wrapping tcptable.ErrInvalid that names the
// option. The Windows and gopsutil providers' options have the same shape.
type Option func(*config) error

type config struct {
	procRoot    string
	netns       string
	allNetNS    bool
	source      Source
	ownerScan   OwnerScan
	noCache     bool
	revalidate  time.Duration
	firstOwner  bool
	dumpRetries int
	workers     int
	trace       traceConfig
}

// defaultDumpRetries is how many times a dump interrupted by a table change
// (NLM_F_DUMP_INTR) is restarted before the partial result is returned.
const defaultDumpRetries = 3

// defaultRevalidate is how long a process's descriptor list is trusted.
const defaultRevalidate = 5 * time.Second

// defaultMaxWorkers caps the default number of goroutines that read /proc
// in parallel.
const defaultMaxWorkers = 4

// maxWorkers caps what WithWorkers accepts: each worker may hold an
// io_uring ring of its own.
const maxWorkers = 64

func defaultConfig() config {
	root := "/proc"
	if env := os.Getenv("HOST_PROC"); env != "" {
		root = env
	}
	return config{procRoot: root, dumpRetries: defaultDumpRetries, revalidate: defaultRevalidate,
		trace: traceConfig{diagPoll: defaultDiagPoll}}
}

// WithProcRoot reads processes (and, for SourceProcNet, the socket table)
// from the procfs mounted at root instead of /proc. Without this option
// the provider honours the HOST_PROC environment variable, as gopsutil
// does, so that an agent in a container can see the host's processes
// through a bind mount such as /host/proc. An empty root is invalid.
func WithProcRoot(root string) Option {
	return func(c *config) error {
		if root == "" {
			return option.Invalid(`WithProcRoot("")`, "empty path")
		}
		c.procRoot = root
		return nil
	}
}

// WithNetNS reads the TCP table of another network namespace, given by a
// namespace file such as /var/run/netns/NAME or /proc/PID/ns/net. The
// provider enters the namespace on a locked OS thread only to open its
// netlink socket (or to read /proc/net/tcp), and that thread goes back to
// its own namespace before any other goroutine may run on it. Owners are
// searched first among the processes of that namespace. An empty path is
// invalid. New fails with an *fs.PathError naming path when the file
// does not exist (fs.ErrNotExist), is not a network namespace (wrapping
// tcptable.ErrInvalid, saying what it is), or cannot be opened or entered
// (fs.ErrPermission, as tcptable.ErrPermission: entering needs
// CAP_SYS_ADMIN), so that a bad path never fails only later calls.
func WithNetNS(path string) Option {
	return func(c *config) error {
		if path == "" {
			return option.Invalid(`WithNetNS("")`, "empty path")
		}
		c.netns = path
		return nil
	}
}

// WithSource forces a table source; the default is SourceAuto. A value
// other than the Source constants is invalid.
func WithSource(s Source) Option {
	return func(c *config) error {
		if s > SourceProcNet {
			return option.Invalid("WithSource("+s.String()+")", "no such source")
		}
		c.source = s
		return nil
	}
}

// WithOwnerScan forces an owner scan; the default is OwnerScanAuto. A
// value other than the OwnerScan constants is invalid.
func WithOwnerScan(s OwnerScan) Option {
	return func(c *config) error {
		if s > OwnerScanProcfs {
			return option.Invalid("WithOwnerScan("+s.String()+")", "no such owner scan")
		}
		c.ownerScan = s
		return nil
	}
}

// WithoutOwnerCache makes every Table call read every descriptor of every
// process it searches (with OwnerScanBPF: run the kernel's iterator on
// every call), instead of trusting descriptor lists it read in earlier
// calls. Slower; useful to rule the cache out when debugging.
//
// With the cache (the default), a poll reads the descriptors of new
// processes and of processes whose list is older than the revalidation
// interval (WithOwnerRevalidate), and takes every other process's list from
// the cache after checking that the process still exists with the same
// start time (OwnerScanBPF reads all of them at once when any is due). A socket the cache cannot place triggers a search, and if
// that fails a full walk that trusts nothing. What the cache can miss until
// the process's list is revalidated: a process that closed one of several
// descriptors of a shared socket (it is still listed in OtherPIDs), or one
// that received an existing socket over SCM_RIGHTS (it is not yet listed).
func WithoutOwnerCache() Option {
	return func(c *config) error { c.noCache = true; return nil }
}

// WithDumpRetries sets how many times a sock_diag dump that the kernel
// marks as interrupted by a concurrent change (NLM_F_DUMP_INTR) is
// restarted before Table returns the last, possibly inconsistent, result
// with an error wrapping tcptable.ErrInconsistent. The default is 3;
// negative values count as 0.
func WithDumpRetries(n int) Option {
	return func(c *config) error { c.dumpRetries = max(n, 0); return nil }
}

// WithWorkers sets how many goroutines read /proc in parallel, at most 64
// (default, and with 0: the number of CPUs Go may use, at most 4). A
// negative number or one above 64 is invalid.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 0 || n > maxWorkers {
			return option.Invalid("WithWorkers("+strconv.Itoa(n)+")",
				"want 1 to "+strconv.Itoa(maxWorkers)+", or 0 for the default")
		}
		c.workers = n
		return nil
	}
}

// WithOwnerRevalidate sets how long the owner cache trusts a process's
// descriptor list before reading it again (default 5s; 0 reads every list
// on every poll, which is exact but costs, with OwnerScanProcfs, a
// getdents of every descriptor, and with OwnerScanBPF a run of the
// kernel's iterator).
func WithOwnerRevalidate(d time.Duration) Option {
	return func(c *config) error { c.revalidate = max(d, 0); return nil }
}

// WithFirstOwnerOnly trades exactness of shared sockets for speed on a
// cold cache of the OwnerScanProcfs scan (OwnerScanBPF, exact and cheap,
// ignores it): owner resolution first reads the 64 lowest descriptors of
// every process of the namespace (listeners usually sit there) and stops
// as soon as every socket of the answer has one owner; only if some
// socket is still unowned does it read the rest, as without the option.
// It makes a narrow query (listeners, one port) cheap on the first poll,
// when reading every descriptor would cost more than the table itself.
// The price: a socket shared by several processes (a listener inherited by
// a pre-forked server's workers, a descriptor passed over a Unix socket)
// lists only the holders found before the stop, so OtherPIDs may be
// incomplete and PID is the lowest holder found rather than the lowest of
// all. Off by default: without it every holder in the namespace is found.
func WithFirstOwnerOnly() Option {
	return func(c *config) error { c.firstOwner = true; return nil }
}
