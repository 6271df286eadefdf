//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	psnet "github.com/shirou/gopsutil/v4/net"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/internal/netnstest"
	"github.com/tcptable/tcptable/providers/linux"
)

// The environment variables that select a role and pass its argument.
const (
	envRole = "TCPTABLE_BENCH_ROLE"
	envArg  = "TCPTABLE_BENCH_ARG"
	// envProfile starts the name of a file for a CPU profile of the first
	// poll of each provider poll process: PATH.poll-WORDS (the role's
	// argument; the last run of a role writes it), and of the tracer:
	// PATH.tracer (startProfile).
	envProfile = "TCPTABLE_BENCH_CPUPROFILE"
)

// The tools a measurement can time.
const (
	toolSS        = "ss -tan"
	toolSSP       = "ss -tanp"
	toolSSL       = "ss -tlnp"
	toolProvider  = "provider"
	toolProviderL = "provider listeners"
	toolProviderF = "provider listeners procfs first-owner"
	toolProviderR = "provider reuse"
	// The same queries with the /proc owner scan, where the default is
	// the BPF descriptor iterator (as root), to compare the two.
	toolProviderP  = "provider procfs"
	toolProviderLP = "provider listeners procfs"
	toolGopsutil   = "gopsutil"
	// Query.Stats (tcp_info) against the same query without, and ss -tin
	// against ss -tan.
	toolSSI        = "ss -tin"
	toolProviderS  = "provider stats"
	toolProviderN  = "provider no-owners"
	toolProviderNS = "provider no-owners stats"
)

func sizeTools(gopsutil, stats, statsOnly bool) []string {
	if statsOnly {
		return statsTools()
	}
	t := []string{toolSS, toolSSP, toolProvider, toolProviderR, toolProviderP, toolSSL, toolProviderL, toolProviderLP, toolProviderF}
	if gopsutil {
		t = append(t, toolGopsutil)
	}
	if stats {
		t = append(t, statsTools()[2:]...)
	}
	return t
}

// statsTools compare the table with and without statistics, interleaved
// (each round runs every tool once) so that the machine's noise hits both.
func statsTools() []string {
	return []string{toolSS, toolProvider, toolSSI, toolProviderS, toolProviderN, toolProviderNS}
}

// result is one tool's measurement: medians in milliseconds.
type result struct {
	Ms     float64 `json:"ms"`               // wall time (ss) or first Table call (provider, gopsutil)
	Second float64 `json:"second,omitempty"` // provider: second poll of the unchanged table
	// CPU and SecondCPU are the provider process's CPU time (user and
	// system, every thread, the kernel's dump work included) during the
	// first and the second poll: less sensitive than wall time to other
	// load on a shared machine.
	CPU       float64 `json:"cpu,omitempty"`
	SecondCPU float64 `json:"second_cpu,omitempty"`
	Rows      int     `json:"rows"`
	// RSSKB is the peak resident set of the process: for the provider and
	// gopsutil, measured right after the first call; for ss, of the run.
	RSSKB int64 `json:"rss_kb"`
	// AllRSSKB is the provider process's peak over both polls (with the
	// default GOGC the second answer is allocated before the first is
	// collected).
	AllRSSKB int64 `json:"all_rss_kb,omitempty"`
	// Scan is the provider's owner scan (bpf or procfs).
	Scan string `json:"scan,omitempty"`
	// Created is how many rows carried a creation time (trace scenario).
	Created int `json:"created,omitempty"`
}

// measureReq is the measure role's argument.
type measureReq struct {
	Tools []string `json:"tools"`
	Reps  int      `json:"reps"`
	// OnceTools are timed only in the first round (gopsutil on large
	// tables, to keep the run under ten minutes).
	OnceTools []string `json:"once_tools,omitempty"`
}

// measure runs the measure role inside ns.
func measure(ns *netnstest.NS, exe string, tools []string, reps int, once ...string) (map[string]result, error) {
	arg, _ := json.Marshal(measureReq{Tools: tools, Reps: reps, OnceTools: once})
	cmd := ns.Exec(exe)
	cmd.Env = append(os.Environ(), envRole+"=measure", envArg+"="+string(arg))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("measure in %s: %w", ns.Name, err)
	}
	var res map[string]result
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("measure in %s: %w: %q", ns.Name, err, out)
	}
	return res, nil
}

// runRoleIfRequested runs the role the environment names and exits.
func runRoleIfRequested() {
	role := os.Getenv(envRole)
	if role == "" {
		return
	}
	var out any
	var err error
	switch role {
	case "measure":
		out, err = measureRole(os.Getenv(envArg))
	case "poll":
		out, err = pollRole(os.Getenv(envArg))
	case "gopsutil":
		out, err = gopsutilRole()
	case "churn":
		out, err = churnRole(os.Getenv(envArg))
	case "tracer":
		out, err = tracerRole(os.Getenv(envArg))
	case "created":
		out, err = createdRole(os.Getenv(envArg))
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err == nil {
		err = json.NewEncoder(os.Stdout).Encode(out)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcptable-bench %s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// measureRole times each tool reps times, round robin, and returns medians.
func measureRole(arg string) (map[string]result, error) {
	var req measureReq
	if err := json.Unmarshal([]byte(arg), &req); err != nil {
		return nil, err
	}
	runs := map[string][]result{}
	for rep := range req.Reps {
		for _, tool := range req.Tools {
			if rep > 0 && slices.Contains(req.OnceTools, tool) {
				continue
			}
			r, err := runTool(tool)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", tool, err)
			}
			runs[tool] = append(runs[tool], r)
		}
	}
	return medians(runs), nil
}

// medians reduces each tool's runs to their median.
func medians(runs map[string][]result) map[string]result {
	out := map[string]result{}
	for tool, rs := range runs {
		out[tool] = median(rs)
	}
	return out
}

func median(rs []result) result {
	pick := func(f func(result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	m := result{
		Ms:        pick(func(r result) float64 { return r.Ms }),
		Second:    pick(func(r result) float64 { return r.Second }),
		CPU:       pick(func(r result) float64 { return r.CPU }),
		SecondCPU: pick(func(r result) float64 { return r.SecondCPU }),
		Rows:      rs[len(rs)-1].Rows,
		Scan:      rs[len(rs)-1].Scan,
	}
	for _, r := range rs {
		m.RSSKB = max(m.RSSKB, r.RSSKB)
		m.AllRSSKB = max(m.AllRSSKB, r.AllRSSKB)
	}
	return m
}

// runTool times one run of tool.
func runTool(tool string) (result, error) {
	switch tool {
	case toolSS, toolSSP, toolSSL, toolSSI:
		return runSS(strings.Fields(tool)[1])
	case toolGopsutil:
		return runSelf("gopsutil", "")
	}
	if words, ok := providerWords(tool); ok {
		return runSelf("poll", words)
	}
	return result{}, fmt.Errorf("unknown tool %q", tool)
}

// providerWords returns the words of a provider tool ("provider
// listeners procfs" is "listeners procfs"), which are pollRole's.
func providerWords(tool string) (string, bool) {
	if tool == toolProvider {
		return "", true
	}
	return strings.CutPrefix(tool, toolProvider+" ")
}

// runSS times ss writing its output to a temporary file (as the provider
// materializes its rows), then counts the rows.
func runSS(flags string) (result, error) {
	f, err := os.CreateTemp("", "tcptable-bench-ss-")
	if err != nil {
		return result{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.Command("ss", flags+"H")
	cmd.Stdout = f
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, err
	}
	r := result{Ms: ms(time.Since(t)), RSSKB: maxRSS(cmd.ProcessState)}
	out, err := os.ReadFile(f.Name())
	if err != nil {
		return result{}, err
	}
	r.Rows = bytes.Count(out, []byte{'\n'}) - bytes.Count(out, []byte("\n\t")) // -i: a second line a socket, indented
	return r, nil
}

// runSelf runs this executable in a role and decodes its result.
func runSelf(role, arg string) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), envRole+"="+role, envArg+"="+arg)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, err
	}
	var r result
	if err := json.Unmarshal(out, &r); err != nil {
		return result{}, fmt.Errorf("%w: %q", err, out)
	}
	r.AllRSSKB = maxRSS(cmd.ProcessState)
	return r, nil
}

func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return int64(ru.Maxrss) // int32 on 32-bit Linux
	}
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// pollRole creates a provider and polls twice: the first poll is what a
// fresh process pays (like ss), the second a steady-state poll. arg holds
// the words of a provider tool's name: "listeners" asks for listeners
// only (else the whole table), "procfs" forces the /proc owner scan,
// "first-owner" adds WithFirstOwnerOnly, "reuse" hands the first answer
// back to TableInto for the second, "stats" sets Query.Stats, "no-owners"
// asks for no owners, "allnetns" reads every network namespace
// (WithAllNetNS).
func pollRole(arg string) (result, error) {
	q := tcptable.Query{}
	var opts []linux.Option
	words := strings.Fields(arg)
	for _, w := range words {
		if !slices.Contains([]string{"listeners", "procfs", "first-owner", "reuse", "stats", "no-owners", "allnetns"}, w) {
			return result{}, fmt.Errorf("poll: unknown word %q in %q", w, arg)
		}
	}
	if slices.Contains(words, "listeners") {
		q.Class = tcptable.ClassListeners
	}
	if slices.Contains(words, "procfs") {
		opts = append(opts, linux.WithOwnerScan(linux.OwnerScanProcfs))
	}
	if slices.Contains(words, "first-owner") {
		opts = append(opts, linux.WithFirstOwnerOnly())
	}
	q.Stats = slices.Contains(words, "stats")
	if slices.Contains(words, "allnetns") {
		opts = append(opts, linux.WithAllNetNS())
	}
	if slices.Contains(words, "no-owners") {
		q.Owners = tcptable.OwnerNone
	}
	ctx := context.Background()
	stopProfile, err := startProfile(strings.Join(append([]string{"poll"}, words...), "-"))
	if err != nil {
		return result{}, err
	}
	defer stopProfile()
	t, cpu := time.Now(), selfCPU()
	p, err := linux.New(opts...)
	if err != nil {
		return result{}, err
	}
	defer p.Close()
	rows, err := p.Table(ctx, q)
	if err != nil {
		return result{}, err
	}
	r := result{Ms: ms(time.Since(t)), CPU: ms(selfCPU() - cpu), Rows: len(rows), RSSKB: selfMaxRSS(), Scan: p.OwnerScan().String()}
	stopProfile()
	var buf []tcptable.Connection
	if slices.Contains(words, "reuse") {
		buf = rows
	}
	rows = nil
	t, cpu = time.Now(), selfCPU()
	rows, err = p.TableInto(ctx, q, buf)
	if err != nil {
		return result{}, err
	}
	r.Second, r.SecondCPU = ms(time.Since(t)), ms(selfCPU()-cpu)
	if len(rows) != r.Rows {
		fmt.Fprintf(os.Stderr, "note: second poll saw %d rows, first %d\n", len(rows), r.Rows)
	}
	return r, nil
}

// gopsutilRole times net.Connections("tcp"), which also resolves PIDs.
func gopsutilRole() (result, error) {
	t := time.Now()
	conns, err := psnet.Connections("tcp")
	if err != nil {
		return result{}, err
	}
	return result{Ms: ms(time.Since(t)), Rows: len(conns), RSSKB: selfMaxRSS()}, nil
}

// startProfile starts a CPU profile, PATH.suffix, when envProfile is
// PATH, and returns what stops it (and closes the file; later calls do
// nothing).
func startProfile(suffix string) (stop func(), err error) {
	path := os.Getenv(envProfile)
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path + "." + suffix)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return sync.OnceFunc(func() { pprof.StopCPUProfile(); f.Close() }), nil
}

// selfCPU is the CPU time this process has used so far, user and system.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfMaxRSS is this process's peak resident set so far, in KiB.
func selfMaxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return int64(ru.Maxrss) // int32 on 32-bit Linux
}
