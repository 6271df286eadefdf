//go:build linux

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/linux"
)

// mountTracefs mounts tracefs at /sys/kernel/tracing unless it is there.
func mountTracefs() error {
	if _, err := os.Stat("/sys/kernel/tracing/events"); err == nil {
		return nil
	}
	if err := syscall.Mount("nodev", "/sys/kernel/tracing", "tracefs", 0, ""); err != nil {
		return fmt.Errorf("tracer: mount tracefs: %w", err)
	}
	return nil
}

// tracerRole: "PORT MODE [notracefs]" (PORT the churn listener's port;
// MODE births, trace or drain); it prints READY on standard error when
// ready and reports at the end of its standard input (in drain mode,
// after a line with the number of connections the churn made).
//
// ip netns exec gives it a mount namespace of its own, with a /sys of the
// namespace and no tracefs: it mounts tracefs there (only it sees it), as
// a host has it mounted, unless told notracefs (the trace then attributes
// accepts with tp_btf/sys_exit, as in a container without tracefs).
func tracerRole(arg string) (tracerResult, error) {
	f := strings.Fields(arg)
	if len(f) != 2 && (len(f) != 3 || f[2] != "notracefs") {
		return tracerResult{}, fmt.Errorf("tracer: want PORT MODE [notracefs], got %q", arg)
	}
	if len(f) == 2 {
		if err := mountTracefs(); err != nil {
			return tracerResult{}, err
		}
	}
	port, err := strconv.Atoi(f[0])
	if err != nil {
		return tracerResult{}, fmt.Errorf("tracer: port %q", f[0])
	}
	mode := f[1]
	var opts []linux.Option
	if mode == modeDrain {
		opts = append(opts, linux.WithTraceBuffer(drainRing))
	}
	p, err := linux.New(opts...)
	if err != nil {
		return tracerResult{}, err
	}
	defer p.Close()
	src, why := p.TraceSource() // waits for the recorder
	if src != linux.TraceBPF {
		return tracerResult{}, fmt.Errorf("no BPF trace: %v", why)
	}
	r := tracerResult{Source: src.String()}
	switch mode {
	case modeBirths:
		// Only the recorder of birth times runs (as in any provider).
		cpu0 := selfCPU()
		fmt.Fprintln(os.Stderr, "READY")
		_, _ = io.Copy(io.Discard, os.Stdin)
		r.CPUSec = (selfCPU() - cpu0).Seconds()
		r.Source = modeBirths
		return r, nil
	case modeTrace, modeDrain:
		return traceCount(p, uint16(port), mode == modeDrain)
	}
	return r, fmt.Errorf("tracer: unknown mode %q", mode)
}

// traceCount traces the namespace counting events; with hold, the
// callback is held from its first call until standard input gives the
// number of connections made, and the drain that follows is timed.
func traceCount(p *linux.Provider, port uint16, hold bool) (tracerResult, error) {
	r := tracerResult{Source: "bpf"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	release := make(chan struct{})
	drained := make(chan struct{})
	var (
		want   int64        = -1 // openings to wait for (drain); set before release
		opened atomic.Int64      // openings and losses so far
		events atomic.Int64
	)
	done := make(chan error, 1)
	go func() {
		waited := !hold
		done <- p.Trace(ctx, tcptable.Query{}, func(e tcptable.Event) error {
			if !waited {
				<-release
				waited = true
			}
			r.Events++
			switch {
			case e.Kind == tcptable.EventLost:
				r.Lost += e.Lost
			case e.Kind == tcptable.EventOpened && e.After.State == tcptable.StateSynSent && e.After.Remote.Port() == port:
				r.Opened++
			}
			if hold {
				events.Store(r.Events)
				opened.Store(r.Opened + int64(r.Lost))
				if want >= 0 && r.Opened+int64(r.Lost) >= want {
					select {
					case <-drained:
					default:
						close(drained)
					}
				}
			}
			return nil
		})
	}()
	time.Sleep(300 * time.Millisecond) // the trace's first snapshot
	stopProfile, err := startProfile("tracer")
	if err != nil {
		return r, err
	}
	defer stopProfile()
	cpu0 := selfCPU()
	fmt.Fprintln(os.Stderr, "READY")
	if hold {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		n, perr := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
		if perr != nil {
			return r, fmt.Errorf("tracer: connections made: %q: %v", line, err)
		}
		want = n
		cpu0 = selfCPU()
		released := time.Now()
		close(release)
		select {
		case <-drained:
		case <-time.After(2 * time.Minute):
			return r, fmt.Errorf("tracer: drained %d of %d openings in 2 minutes", opened.Load(), n)
		}
		// Drained up to the last opening: the events after it, the
		// closes of the last connections, are a few dozen.
		r.DrainSecs = time.Since(released).Seconds()
		r.CPUSec = (selfCPU() - cpu0).Seconds()
		r.DrainEvents = events.Load()
	} else {
		_, _ = io.Copy(io.Discard, os.Stdin)
		time.Sleep(200 * time.Millisecond) // the ring's last records
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return r, err
	}
	if !hold {
		r.CPUSec = (selfCPU() - cpu0).Seconds()
	}
	return r, nil
}
