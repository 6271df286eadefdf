package owners

import (
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// holdSockets opens n socket descriptors (Unix socket pairs) for the rest
// of the benchmark.
func holdSockets(b *testing.B, n int) []int {
	var out []int
	for range n / 2 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
		out = append(out, fds[:]...)
	}
	return out
}

// BenchmarkLookup compares two ways of telling what a /proc/PID/fd/N entry
// is, per descriptor, over 2,000 socket descriptors of this process:
// reading the link (what the scan does; it never enters the file's file
// system) and a stat that follows it (which does, and hangs on a FUSE
// server that stops answering).
func BenchmarkLookup(b *testing.B) {
	fds := holdSockets(b, 2000)
	dfd, err := openDir(unix.AT_FDCWD, "/proc/"+strconv.Itoa(os.Getpid())+"/fd")
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(dfd)
	names := make([]string, len(fds))
	cnames := make([]*byte, len(fds))
	for i, fd := range fds {
		names[i] = strconv.Itoa(fd)
		n := append([]byte(names[i]), 0)
		cnames[i] = &n[0]
	}
	b.Run("readlinkat", func(b *testing.B) {
		var buf [64]byte
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			for _, n := range cnames {
				if _, ok, err := fdSocket(dfd, n, buf[:]); err != nil || !ok {
					b.Fatal(err)
				}
			}
		}
		reportPerFD(b, cpu, len(fds))
	})
	b.Run("fstatat-follow", func(b *testing.B) {
		var st unix.Stat_t
		cpu := cpuTime()
		for b.Loop() {
			for _, n := range names {
				if err := unix.Fstatat(dfd, n, &st, 0); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
					b.Fatal(err)
				}
			}
		}
		reportPerFD(b, cpu, len(fds))
	})
}

// BenchmarkScan reads this process's descriptor list, 10,000 socket
// descriptors, as a poll with nothing to trust does: probing the numbers
// from 0 (the default for 512 or more descriptors on Linux 6.2+) or
// listing the directory.
func BenchmarkScan(b *testing.B) {
	holdSockets(b, 10000)
	r, err := New("/proc", false, 0, 1, false)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	for _, probe := range []bool{true, false} {
		b.Run("probe="+strconv.FormatBool(probe), func(b *testing.B) {
			sc := r.scanners[0]
			e := &procEntry{pid: uint32(os.Getpid()), dir: strconv.Itoa(os.Getpid())}
			cpu := cpuTime()
			for b.Loop() {
				// trust with nothing cached reads every descriptor and skips the probe.
				r.scan(e, !probe, sc, 0)
				if !probe {
					e.fds = e.fds[:0]
				}
			}
			r.scan(e, false, sc, 0)
			if len(e.fds) < 10000 {
				b.Fatalf("%d descriptors read", len(e.fds))
			}
			reportPerFD(b, cpu, len(e.fds))
		})
	}
}

// cpuTime is the CPU time this process has used so far.
func cpuTime() time.Duration {
	var ru unix.Rusage
	_ = unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportPerFD reports wall and CPU time per descriptor since cpu.
func reportPerFD(b *testing.B, cpu time.Duration, fds int) {
	n := float64(b.N * fds)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/fd")
	b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/n, "cpu-ns/fd")
}
