//go:build linux

package main

import (
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The churn generator: WORKERS threads, each locked to its OS thread,
// each running lifecycles with raw system calls and no allocation:
// socket, bind to a source address of its own (127.W.x.y, a new one per
// connection, port chosen at connect: IP_BIND_ADDRESS_NO_PORT), blocking
// connect (on loopback the handshake completes inside the call), accept4
// on the one shared listener, close of the client (which so ends in
// TIME-WAIT), close of the accepted socket. A worker accepts only after
// its own connect, so the listener's queue is never empty when a worker
// accepts and a worker never waits for another. Source addresses rotate
// through 65,536 per worker, so the TIME-WAIT minisockets of earlier
// connections (60 s each) never exhaust the ephemeral ports.
//
// Go's net package costs about 50 µs of CPU a lifecycle here (goroutines,
// the poller, a goroutine per accepted connection): the generator of the
// first measurements topped out at 14,300 lifecycles a second with the
// two CPUs half idle.

// churnSpec is the churn role's argument: "ADDR RATE SECS WORKERS".
type churnSpec struct {
	addr    netip.AddrPort
	rate    int // lifecycles a second in all; 0: as fast as possible
	secs    float64
	workers int
}

func parseChurn(arg string) (churnSpec, error) {
	f := strings.Fields(arg)
	if len(f) != 4 {
		return churnSpec{}, fmt.Errorf("churn: want ADDR RATE SECS WORKERS, got %q", arg)
	}
	var s churnSpec
	var err error
	if s.addr, err = netip.ParseAddrPort(f[0]); err != nil || !s.addr.Addr().Is4() {
		return s, fmt.Errorf("churn: %q is not an IPv4 address and port", f[0])
	}
	s.rate, err = strconv.Atoi(f[1])
	if err != nil || s.rate < 0 {
		return s, fmt.Errorf("churn: rate %q", f[1])
	}
	s.secs, err = strconv.ParseFloat(f[2], 64)
	if err != nil || s.secs <= 0 {
		return s, fmt.Errorf("churn: seconds %q", f[2])
	}
	s.workers, err = strconv.Atoi(f[3])
	if err != nil || s.workers < 1 || s.workers > 254 {
		return s, fmt.Errorf("churn: workers %q (1..254)", f[3])
	}
	return s, nil
}

// churnRole runs the generator and reports what it made.
func churnRole(arg string) (churnResult, error) {
	s, err := parseChurn(arg)
	if err != nil {
		return churnResult{}, err
	}
	// The whole ephemeral range of this namespace (the bench's own).
	_ = os.WriteFile("/proc/sys/net/ipv4/ip_local_port_range", []byte("1024 65535"), 0)
	lfd, err := listen4(s.addr)
	if err != nil {
		return churnResult{}, err
	}
	defer unix.Close(lfd)
	var n, fails atomic.Int64
	var firstErr atomic.Value
	start := time.Now()
	deadline := start.Add(time.Duration(s.secs * float64(time.Second)))
	cpu0 := selfCPU()
	var wg sync.WaitGroup
	for w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			made, err := churnWorker(w, s, lfd, start, deadline)
			n.Add(made)
			if err != nil {
				fails.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		}()
	}
	wg.Wait()
	r := churnResult{Conns: n.Load(), Secs: time.Since(start).Seconds(), CPUSec: (selfCPU() - cpu0).Seconds()}
	if err, ok := firstErr.Load().(error); ok {
		return r, fmt.Errorf("churn: %d of %d workers failed: %w", fails.Load(), s.workers, err)
	}
	return r, nil
}

// listen4 opens the shared listener.
func listen4(ap netip.AddrPort) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("churn: socket: %w", err)
	}
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("churn: bind %v: %w", ap, err)
	}
	if err := unix.Listen(fd, 4096); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("churn: listen: %w", err)
	}
	return fd, nil
}

// rawSockaddr4 returns a struct sockaddr_in for a raw system call.
func rawSockaddr4(a [4]byte, port uint16) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: a}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return sa
}

// churnWorker runs lifecycles until deadline, paced to its share of the
// rate, and returns how many it completed.
func churnWorker(w int, s churnSpec, lfd int, start, deadline time.Time) (int64, error) {
	dst := rawSockaddr4(s.addr.Addr().As4(), s.addr.Port())
	src := rawSockaddr4([4]byte{127, byte(1 + w), 0, 0}, 0)
	var every time.Duration
	if s.rate > 0 {
		every = time.Duration(float64(time.Second) * float64(s.workers) / float64(s.rate))
	}
	next := start.Add(time.Duration(w) * every / time.Duration(s.workers))
	var made int64
	for i := 0; ; i++ {
		now := time.Now()
		if !now.Before(deadline) {
			return made, nil
		}
		if every > 0 {
			// Sleep only when a millisecond ahead: one wakeup per
			// millisecond at most, not one per connection.
			if d := next.Sub(now); d > time.Millisecond {
				time.Sleep(d)
			}
			next = next.Add(every)
		}
		src.Addr[2], src.Addr[3] = byte(i>>8), byte(i)
		if err := lifecycle(lfd, &src, &dst); err != nil {
			return made, err
		}
		made++
	}
}

// lifecycle makes one connection to the listener and ends it: the
// client closes first.
func lifecycle(lfd int, src, dst *unix.RawSockaddrInet4) error {
	fd, _, e := unix.RawSyscall(unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return fmt.Errorf("socket: %w", e)
	}
	one := int32(1)
	if _, _, e = unix.RawSyscall6(unix.SYS_SETSOCKOPT, fd, unix.IPPROTO_IP, unix.IP_BIND_ADDRESS_NO_PORT, uintptr(unsafe.Pointer(&one)), 4, 0); e != 0 {
		unix.Close(int(fd))
		return fmt.Errorf("setsockopt(IP_BIND_ADDRESS_NO_PORT): %w", e)
	}
	if _, _, e = unix.RawSyscall(unix.SYS_BIND, fd, uintptr(unsafe.Pointer(src)), unix.SizeofSockaddrInet4); e != 0 {
		unix.Close(int(fd))
		return fmt.Errorf("bind: %w", e)
	}
	if _, _, e = unix.RawSyscall(unix.SYS_CONNECT, fd, uintptr(unsafe.Pointer(dst)), unix.SizeofSockaddrInet4); e != 0 {
		unix.Close(int(fd))
		return fmt.Errorf("connect from %v: %w", netip.AddrFrom4(src.Addr), e)
	}
	afd, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(lfd), 0, 0, unix.SOCK_CLOEXEC, 0, 0)
	unix.RawSyscall(unix.SYS_CLOSE, fd, 0, 0)
	if e != 0 {
		return fmt.Errorf("accept4: %w", e)
	}
	unix.RawSyscall(unix.SYS_CLOSE, afd, 0, 0)
	return nil
}
