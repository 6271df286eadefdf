//go:build linux

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tcptable/tcptable/internal/netnstest"
)

// The trace scenario (-trace): in a namespace of its own, a churn child
// (churn.go) opens and closes loopback connections as fast as it can or
// at a paced rate, alone, with a provider's birth recorder running in
// another process ("births"), or with a Trace of the namespace running
// there ("trace"); the runs of one rate are interleaved, rep after rep,
// and medians reported. It measures:
//
//   - throughput: connection lifecycles per second, and whether every
//     connection's opening was reported or the loss reported (zero
//     silent loss: opened + lost >= made);
//   - CPU: the churn process's CPU time (where the kernel runs the BPF
//     programs and the loopback packets), the kernel threads' (softirq
//     work deferred to ksoftirqd, RCU callbacks) and the tracer
//     process's, per lifecycle, and the ratio to the churn alone;
//   - the tracer's capacity apart from the generator ("drain"): the
//     churn runs while the Trace's callback is held, so the kernel fills
//     a large ring; then the callback is released and the tracer drains
//     the ring with nothing else running: events and lifecycles a second
//     it decodes and dispatches;
//   - optionally (-trace-bpf-stats), the kernel programs' own run time
//     (BPF_ENABLE_STATS) per run and per lifecycle, in runs of their own
//     (the statistics cost time themselves);
//   - Table with Created: a provider with birth times against one
//     WithoutBirthTimes, on sockets born while both were open, in another
//     namespace (without the churn's TIME-WAIT sockets).

// The tracer process's modes.
const (
	modeAlone  = ""       // no tracer process
	modeBirths = "births" // a provider with its birth recorder
	modeTrace  = "trace"  // a Trace of the namespace
	modeDrain  = "drain"  // a Trace whose callback is held, then drains
)

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
	// DrainSecs is how long the drain took, from the callback's release
	// until every connection made was reported opened (or lost), and
	// CPUSec the tracer's CPU in that time (drain mode).
	DrainSecs float64 `json:"drain_secs,omitempty"`
	// DrainEvents is how many events the drain delivered by then.
	DrainEvents int64 `json:"drain_events,omitempty"`
}

// traceRun is one churn run.
type traceRun struct {
	rate     int
	mode     string
	churn    churnResult
	kthreads float64 // CPU seconds of the kernel threads during the run
	tracer   *tracerResult
	bpf      []progStat // -trace-bpf-stats runs only
}

// cpuPerConn is the CPU of the run per lifecycle, in microseconds: the
// churn's, the kernel threads' and the tracer's.
func (r traceRun) cpuPerConn() float64 {
	if r.churn.Conns == 0 {
		return 0
	}
	total := r.churn.CPUSec + r.kthreads
	if r.tracer != nil {
		total += r.tracer.CPUSec
	}
	return 1e6 * total / float64(r.churn.Conns)
}

// traceScenario runs the trace benchmarks and prints their table.
func traceScenario(exe string, o options) error {
	ns, err := netnstest.NewNS(fmt.Sprintf("tcptable-bench-trace-%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer ns.Close()
	var runs, drains, stats []traceRun
	for rep := range o.reps {
		for _, rate := range o.traceRates {
			for _, mode := range []string{modeAlone, modeBirths, modeTrace} {
				r, err := churnOnce(ns, exe, o, rate, o.traceSecs, mode, false)
				if err != nil {
					return err
				}
				fmt.Fprintf(os.Stderr, "rep %d rate %d %q: %+v kthreads %.2fs %+v\n", rep, rate, mode, r.churn, r.kthreads, r.tracer)
				runs = append(runs, r)
			}
		}
	}
	for rep := range min(o.reps, 3) {
		r, err := churnOnce(ns, exe, o, 0, 1, modeDrain, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "drain %d: %+v %+v\n", rep, r.churn, r.tracer)
		drains = append(drains, r)
	}
	if o.traceBPFStats {
		rate := o.traceRates[len(o.traceRates)-1]
		for _, mode := range []string{modeBirths, modeTrace} {
			r, err := churnOnce(ns, exe, o, rate, o.traceSecs, mode, true)
			if err != nil {
				return err
			}
			stats = append(stats, r)
		}
	}
	sc, err := syscallCosts(ns, exe)
	if err != nil {
		return err
	}
	cns, err := netnstest.NewNS(fmt.Sprintf("tcptable-bench-created-%d", os.Getpid()))
	if err != nil {
		return err
	}
	defer cns.Close()
	cr, err := runIn(cns, exe, "created", fmt.Sprintf("%d %d", o.tracePairs, o.reps))
	if err != nil {
		return err
	}
	var created createdResult
	if err := json.Unmarshal(cr, &created); err != nil {
		return fmt.Errorf("created: %w: %q", err, cr)
	}
	printTrace(os.Stdout, summarize(runs), drains, stats, sc, created, o)
	return nil
}

// churnPort is the churn listener's port in the bench's namespace; the
// tracer counts the openings of connections to it.
const churnPort = 7000

// drainRing is the ring of the drain runs: large enough for a second of
// the churn (a dozen records of 160 bytes per lifecycle).
const drainRing = 512 << 20

// churnOnce runs the churn child, and the tracer child in mode, in ns.
// With bpfStats the kernel's statistics of the programs are collected
// during the run.
func churnOnce(ns *netnstest.NS, exe string, o options, rate int, secs float64, mode string, bpfStats bool) (traceRun, error) {
	run := traceRun{rate: rate, mode: mode}
	var tracer *tracerProc
	if mode != modeAlone {
		var err error
		if tracer, err = startTracer(ns, exe, strconv.Itoa(churnPort)+" "+mode); err != nil {
			return run, err
		}
		defer tracer.kill()
	}
	var bs *bpfStatsRun
	if bpfStats && tracer != nil {
		var err error
		if bs, err = startBPFStats(tracer.cmd.Process.Pid); err != nil {
			return run, err
		}
	}
	k0 := kthreadCPU()
	out, err := runIn(ns, exe, "churn", fmt.Sprintf("127.0.0.1:%d %d %g %d", churnPort, rate, secs, o.traceWorkers))
	run.kthreads = (kthreadCPU() - k0).Seconds()
	if bs != nil {
		run.bpf, _ = bs.stop()
	}
	if err == nil {
		err = json.Unmarshal(out, &run.churn)
	}
	if tracer != nil {
		line := ""
		if mode == modeDrain {
			line = strconv.FormatInt(run.churn.Conns, 10)
		}
		tr, terr := tracer.finish(line)
		if err == nil {
			err = terr
		}
		run.tracer = &tr
	}
	return run, err
}

// tracerProc is a running tracer child.
type tracerProc struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out strings.Builder
}

// startTracer starts the tracer role with arg in ns and waits until it is
// ready.
func startTracer(ns *netnstest.NS, exe, arg string) (*tracerProc, error) {
	t := &tracerProc{cmd: ns.Exec(exe)}
	t.cmd.Env = append(os.Environ(), envRole+"=tracer", envArg+"="+arg)
	t.cmd.Stdout = &t.out
	stderr, err := t.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if t.in, err = t.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := t.cmd.Start(); err != nil {
		return nil, err
	}
	if err := awaitReady(stderr); err != nil {
		t.in.Close()
		return nil, fmt.Errorf("tracer: %w (%v)", err, t.cmd.Wait())
	}
	return t, nil
}

// finish writes line (if any) to the tracer, ends its input, and returns
// its report.
func (t *tracerProc) finish(line string) (tracerResult, error) {
	var tr tracerResult
	var err error
	if line != "" {
		_, err = fmt.Fprintln(t.in, line)
	}
	t.in.Close()
	if werr := t.cmd.Wait(); werr != nil && err == nil {
		err = fmt.Errorf("tracer: %w", werr)
	}
	if err == nil {
		err = json.Unmarshal([]byte(t.out.String()), &tr)
	}
	return tr, err
}

// kill ends the tracer if it still runs.
func (t *tracerProc) kill() {
	if t.cmd.ProcessState == nil {
		t.cmd.Process.Kill()
		t.cmd.Wait()
	}
}

// syscallCosts times a cheap system call in this process (outside the
// namespace: every process of the host pays what a trace adds) with no
// tracer, with a Trace whose accept attribution uses the syscalls
// tracepoints (tracefs mounted), and with one that uses tp_btf/sys_exit.
func syscallCosts(ns *netnstest.NS, exe string) (map[string]float64, error) {
	out := map[string]float64{"none": syscallNs()}
	for name, extra := range map[string]string{"tracepoint": "", "tp_btf": " notracefs"} {
		t, err := startTracer(ns, exe, strconv.Itoa(churnPort)+" "+modeTrace+extra)
		if err != nil {
			return nil, err
		}
		out[name] = syscallNs()
		_, err = t.finish("")
		t.kill()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// syscallNs is the least time of five runs of getppid(2) a million
// times, in nanoseconds a call.
func syscallNs() float64 {
	best := math.Inf(1)
	for range 5 {
		t := time.Now()
		const n = 1000000
		for range n {
			syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
		}
		best = min(best, float64(time.Since(t).Nanoseconds())/n)
	}
	return best
}

// awaitReady reads the tracer's standard error until it says READY, and
// then copies the rest to ours.
func awaitReady(stderr io.Reader) error {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if sc.Text() == "READY" {
			go func() { _, _ = io.Copy(os.Stderr, stderr) }()
			return nil
		}
		fmt.Fprintln(os.Stderr, sc.Text())
	}
	return fmt.Errorf("ended before it was ready")
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

// kthreadCPU is the CPU time the kernel's threads (children of kthreadd)
// have used so far: ksoftirqd takes over softirq work under load, and RCU
// callbacks free sockets and their storage.
func kthreadCPU() time.Duration {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var ticks int64
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime: fields 4, 14 and 15.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 || (f[1] != "2" && e.Name() != "2") {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}
