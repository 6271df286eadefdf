//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// The trace scenario (-trace): in a namespace of its own, a churn child
// opens and closes loopback connections (connect, accept, client closes
// first, server closes) as fast as it can or at a paced rate, while a
// tracer child follows the namespace with linux.Provider.Trace. It
// measures:
//
//   - throughput: connection lifecycles per second with the tracer
//     running, and whether every connection's opening was reported or
//     the loss reported (zero silent loss: opened + lost >= made);
//   - CPU overhead: the churn child's CPU time at a paced rate, without
//     and with the tracer, plus the tracer's own CPU time (the BPF
//     programs run in the kernel on the churning threads' time);
//   - Table with Created: a provider with birth times against one
//     WithoutBirthTimes, on sockets born while both were open.

// churnResult is what the churn child reports.
type churnResult struct {
	Conns  int64   `json:"conns"`
	Secs   float64 `json:"secs"`
	CPUSec float64 `json:"cpu_sec"`
}

// tracerResult is what the tracer child reports.
type tracerResult struct {
	Opened int64   `json:"opened"` // client connections reported opened
	Events int64   `json:"events"`
	Lost   uint64  `json:"lost"`
	CPUSec float64 `json:"cpu_sec"`
	Source string  `json:"source"`
}

// churnRole: "ADDR RATE SECS WORKERS": connect to a listener of its own
// on ADDR, RATE lifecycles a second in all (0: as fast as possible).
func churnRole(arg string) (churnResult, error) {
	f := strings.Fields(arg)
	if len(f) != 4 {
		return churnResult{}, fmt.Errorf("churn: want ADDR RATE SECS WORKERS, got %q", arg)
	}
	rate, _ := strconv.Atoi(f[1])
	secs, _ := strconv.ParseFloat(f[2], 64)
	workers, _ := strconv.Atoi(f[3])
	l, err := net.Listen("tcp", f[0])
	if err != nil {
		return churnResult{}, err
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	addr := l.Addr().String()
	var n atomic.Int64
	deadline := time.Now().Add(time.Duration(secs * float64(time.Second)))
	start := time.Now()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var every time.Duration
			if rate > 0 {
				every = time.Duration(float64(time.Second) * float64(workers) / float64(rate))
			}
			next := start.Add(time.Duration(w) * every / time.Duration(workers))
			for time.Now().Before(deadline) {
				if every > 0 {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(every)
				}
				c, err := net.Dial("tcp", addr)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				c.Close()
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	r := churnResult{Conns: n.Load(), Secs: time.Since(start).Seconds(), CPUSec: (cpuTime() - cpu0).Seconds()}
	if err, ok := firstErr.Load().(error); ok && r.Conns == 0 {
		return r, err
	}
	return r, nil
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// tracerRole: "PORT" is the churn listener's port; it traces its own
// namespace, prints READY, and reports on stdin's end.
func tracerRole(arg string) (tracerResult, error) {
	f := strings.Fields(arg)
	port, _ := strconv.Atoi(f[0])
	birthsOnly := len(f) > 1 && f[1] == "births"
	p, err := linux.New()
	if err != nil {
		return tracerResult{}, err
	}
	defer p.Close()
	src, why := p.TraceSource()
	if src != linux.TraceBPF {
		return tracerResult{}, fmt.Errorf("no BPF trace: %v", why)
	}
	var r tracerResult
	r.Source = src.String()
	if birthsOnly {
		// Only the recorder of birth times runs (as in any provider).
		cpu0 := cpuTime()
		fmt.Fprintln(os.Stderr, "READY")
		_, _ = io.Copy(io.Discard, os.Stdin)
		r.CPUSec = (cpuTime() - cpu0).Seconds()
		r.Source = "births"
		return r, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- p.Trace(ctx, tcptable.Query{}, func(e tcptable.Event) error {
			r.Events++
			switch {
			case e.Kind == tcptable.EventLost:
				r.Lost += e.Lost
			case e.Kind == tcptable.EventOpened && e.After.State == tcptable.StateSynSent && e.After.Remote.Port() == uint16(port):
				r.Opened++
			}
			return nil
		})
	}()
	time.Sleep(300 * time.Millisecond) // the trace's first snapshot
	if path := os.Getenv(envProfile); path != "" {
		// A CPU profile of the tracer: PATH.tracer.
		f, err := os.Create(path + ".tracer")
		if err != nil {
			return r, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return r, err
		}
		defer pprof.StopCPUProfile()
	}
	cpu0 := cpuTime()
	fmt.Fprintln(os.Stderr, "READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	time.Sleep(200 * time.Millisecond) // the ring's last records
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		return r, err
	}
	r.CPUSec = (cpuTime() - cpu0).Seconds()
	return r, nil
}

// createdRole: "PAIRS REPS": two providers of this namespace, one with
// birth times and one without; PAIRS loopback pairs made after both are
// open; Table timed on each, alternately.
func createdRole(arg string) (map[string]result, error) {
	f := strings.Fields(arg)
	pairs, _ := strconv.Atoi(f[0])
	reps, _ := strconv.Atoi(f[1])
	var lim syscall.Rlimit
	_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	if need := uint64(2*pairs + 64); lim.Cur < need {
		return nil, fmt.Errorf("-trace-pairs %d needs %d descriptors; RLIMIT_NOFILE is %d", pairs, need, lim.Cur)
	}
	with, err := linux.New()
	if err != nil {
		return nil, err
	}
	defer with.Close()
	without, err := linux.New(linux.WithoutBirthTimes())
	if err != nil {
		return nil, err
	}
	defer without.Close()
	if src, why := with.TraceSource(); src != linux.TraceBPF {
		return nil, fmt.Errorf("no BPF recorder: %v", why)
	}
	h, err := holdPairs(pairs)
	if err != nil {
		return nil, err
	}
	defer h.close()
	ctx := context.Background()
	var w, wo []result
	created := 0
	for i := range 2*reps + 1 {
		p, out := with, &w
		if i%2 == 1 {
			p, out = without, &wo
		}
		t := time.Now()
		rows, err := p.Table(ctx, tcptable.Query{})
		if err != nil {
			return nil, err
		}
		d := time.Since(t)
		if i == 0 {
			continue // warm both scans' caches alike
		}
		*out = append(*out, result{Ms: ms(d), Rows: len(rows)})
		if p == with {
			created = 0
			for _, r := range rows {
				if !r.Created.IsZero() {
					created++
				}
			}
		}
	}
	mw, mwo := median(w), median(wo)
	mw.Created = created
	return map[string]result{"created": mw, "plain": mwo}, nil
}

// pairHolder keeps loopback pairs open.
type pairHolder struct{ conns []net.Conn }

func (h *pairHolder) close() {
	for _, c := range h.conns {
		c.Close()
	}
}

func holdPairs(n int) (*pairHolder, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	h := &pairHolder{}
	for range n {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			h.close()
			return nil, err
		}
		s, err := l.Accept()
		if err != nil {
			c.Close()
			h.close()
			return nil, err
		}
		h.conns = append(h.conns, c, s)
	}
	return h, nil
}

// traceRun is one churn run, with or without the tracer.
type traceRun struct {
	rate   int
	churn  churnResult
	tracer *tracerResult
}

// traceScenario runs the trace benchmarks and prints their table.
func traceScenario(exe string, o options) error {
	ns, err := netnstest.NewNS(fmt.Sprintf("tcptable-bench-trace-%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer ns.Close()
	// The tracer needs the churn listener's port before the churn runs;
	// a fixed port of the namespace does.
	const port = 7000
	addr := "127.0.0.1:" + strconv.Itoa(port)
	secs := o.traceSecs
	var runs []traceRun
	for _, rate := range o.traceRates {
		for _, mode := range []string{"", "births", "trace"} {
			if rate == 0 && mode == "births" {
				continue
			}
			r, err := churnOnce(ns, exe, addr, port, rate, secs, mode)
			if err != nil {
				return err
			}
			runs = append(runs, r)
			fmt.Fprintf(os.Stderr, "rate %d %q: %+v %+v\n", rate, mode, r.churn, r.tracer)
		}
	}
	cr, err := runIn(ns, exe, "created", fmt.Sprintf("%d %d", o.tracePairs, o.reps))
	if err != nil {
		return err
	}
	var created map[string]result
	if err := json.Unmarshal(cr, &created); err != nil {
		return fmt.Errorf("created: %w: %q", err, cr)
	}
	printTrace(os.Stdout, runs, created, o)
	return nil
}

// churnOnce runs the churn child (and the tracer child if traced) in ns.
// mode is "" (the churn alone), "births" (a provider's recorder of birth
// times running) or "trace" (a Trace running).
func churnOnce(ns *netnstest.NS, exe, addr string, port, rate int, secs float64, mode string) (traceRun, error) {
	run := traceRun{rate: rate}
	traced := mode != ""
	var tracer *exec.Cmd
	var tracerIn io.WriteCloser
	var tracerOut strings.Builder
	if traced {
		tracer = ns.Exec(exe)
		tracer.Env = append(os.Environ(), envRole+"=tracer", envArg+"="+strconv.Itoa(port)+" "+mode)
		tracer.Stdout = &tracerOut
		stderr, err := tracer.StderrPipe()
		if err != nil {
			return run, err
		}
		if tracerIn, err = tracer.StdinPipe(); err != nil {
			return run, err
		}
		if err := tracer.Start(); err != nil {
			return run, err
		}
		sc := bufio.NewScanner(stderr)
		ready := false
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready = true
				break
			}
			fmt.Fprintln(os.Stderr, sc.Text())
		}
		go func() { _, _ = io.Copy(os.Stderr, stderr) }()
		if !ready {
			tracerIn.Close()
			return run, fmt.Errorf("tracer: %v", tracer.Wait())
		}
	}
	out, err := runIn(ns, exe, "churn", fmt.Sprintf("%s %d %g %d", addr, rate, secs, 4))
	if err == nil {
		err = json.Unmarshal(out, &run.churn)
	}
	if traced {
		tracerIn.Close()
		if werr := tracer.Wait(); werr != nil && err == nil {
			err = fmt.Errorf("tracer: %w", werr)
		}
		var tr tracerResult
		if err == nil {
			err = json.Unmarshal([]byte(tracerOut.String()), &tr)
		}
		run.tracer = &tr
	}
	return run, err
}

// runIn runs this executable in ns with role and arg and returns its
// standard output.
func runIn(ns *netnstest.NS, exe, role, arg string) ([]byte, error) {
	cmd := ns.Exec(exe)
	cmd.Env = append(os.Environ(), envRole+"="+role, envArg+"="+arg)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", role, arg, err)
	}
	return out, nil
}

// printTrace prints the trace scenario's results.
func printTrace(w io.Writer, runs []traceRun, created map[string]result, o options) {
	fmt.Fprintf(w, "Trace: churn of loopback connections for %gs per run (4 workers), 2 CPUs\n\n", o.traceSecs)
	fmt.Fprintf(w, "%-10s %-7s %12s %10s %10s %10s %12s %14s\n", "rate", "with", "conns/s", "churn CPU", "tracer CPU", "opened", "lost", "silent loss")
	base := map[int]float64{}
	for _, r := range runs {
		rate := strconv.Itoa(r.rate) + "/s"
		if r.rate == 0 {
			rate = "max"
		}
		cps := float64(r.churn.Conns) / r.churn.Secs
		if r.tracer == nil {
			base[r.rate] = r.churn.CPUSec / r.churn.Secs
			fmt.Fprintf(w, "%-10s %-7s %12.0f %9.2fs %10s %10s %12s %14s\n", rate, "-", cps, r.churn.CPUSec, "-", "-", "-", "-")
			continue
		}
		total := r.churn.CPUSec + r.tracer.CPUSec
		over := ""
		if b := base[r.rate]; b > 0 && r.rate != 0 {
			over = fmt.Sprintf(" (%+.1f%% CPU/s)", 100*(total/r.churn.Secs/b-1))
		}
		if r.tracer.Source == "births" {
			fmt.Fprintf(w, "%-10s %-7s %12.0f %9.2fs %9.2fs %10s %12s %14s%s\n", rate, "births", cps, r.churn.CPUSec, r.tracer.CPUSec, "-", "-", "-", over)
			continue
		}
		silent := r.churn.Conns - r.tracer.Opened - int64(r.tracer.Lost)
		verdict := "none"
		if silent > 0 {
			verdict = strconv.FormatInt(silent, 10) + " (!)"
		}
		fmt.Fprintf(w, "%-10s %-7s %12.0f %9.2fs %9.2fs %10d %12d %14s%s\n", rate, "trace", cps, r.churn.CPUSec, r.tracer.CPUSec, r.tracer.Opened, r.tracer.Lost, verdict, over)
	}
	c, p := created["created"], created["plain"]
	fmt.Fprintf(w, "\nTable of %d rows, median of %d: with Created %.1f ms (%d rows with Created), without %.1f ms: %s\n",
		c.Rows, o.reps, c.Ms, c.Created, p.Ms, ratio(c.Ms, p.Ms))
}

// traceRates parses -trace-rates.
func traceRates(s string) ([]int, error) {
	var rates []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-trace-rates: %q is not a rate (0: as fast as possible)", f)
		}
		rates = append(rates, n)
	}
	slices.Sort(rates)
	return rates, nil
}
