//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// progStat is what one BPF program did during a run.
type progStat struct {
	Name    string
	Runs    uint64
	Runtime time.Duration
	Misses  uint64
}

// bpfStatsRun collects the kernel's run statistics of one process's BPF
// programs over a run.
type bpfStatsRun struct {
	enabled io.Closer
	progs   []*ebpf.Program
	before  []ebpf.ProgramStats
}

// startBPFStats enables the kernel's statistics (BPF_ENABLE_STATS, until
// stop; it adds two clock readings to every program run, on the host) and
// reads those of the programs process pid holds.
func startBPFStats(pid int) (*bpfStatsRun, error) {
	enabled, err := ebpf.EnableStats(uint32(unix.BPF_STATS_RUN_TIME))
	if err != nil {
		return nil, fmt.Errorf("enable BPF statistics: %w", err)
	}
	s := &bpfStatsRun{enabled: enabled}
	ids, err := progIDs(pid)
	if err != nil {
		s.close()
		return nil, err
	}
	for _, id := range ids {
		p, err := ebpf.NewProgramFromID(id)
		if err != nil {
			continue // gone since
		}
		st, err := p.Stats()
		if err != nil {
			p.Close()
			continue
		}
		s.progs = append(s.progs, p)
		s.before = append(s.before, *st)
	}
	if len(s.progs) == 0 {
		s.close()
		return nil, fmt.Errorf("process %d holds no BPF program", pid)
	}
	return s, nil
}

// stop reads the statistics again and returns each program's share of
// the run.
func (s *bpfStatsRun) stop() ([]progStat, error) {
	defer s.close()
	var out []progStat
	for i, p := range s.progs {
		st, err := p.Stats()
		if err != nil {
			return nil, err
		}
		info, err := p.Info()
		if err != nil {
			return nil, err
		}
		b := s.before[i]
		if st.RunCount == b.RunCount && st.RecursionMisses == b.RecursionMisses {
			continue
		}
		out = append(out, progStat{Name: info.Name, Runs: st.RunCount - b.RunCount, Runtime: st.Runtime - b.Runtime, Misses: st.RecursionMisses - b.RecursionMisses})
	}
	return out, nil
}

func (s *bpfStatsRun) close() {
	for _, p := range s.progs {
		p.Close()
	}
	s.progs = nil
	s.enabled.Close()
}

// progIDs returns the IDs of the BPF programs process pid holds
// descriptors of (the prog_id lines of /proc/PID/fdinfo).
func progIDs(pid int) ([]ebpf.ProgramID, error) {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fdinfo")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	seen := map[ebpf.ProgramID]bool{}
	var ids []ebpf.ProgramID
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			v, ok := strings.CutPrefix(sc.Text(), "prog_id:")
			if !ok {
				continue
			}
			if id, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil && !seen[ebpf.ProgramID(id)] {
				seen[ebpf.ProgramID(id)] = true
				ids = append(ids, ebpf.ProgramID(id))
			}
		}
		f.Close()
	}
	return ids, nil
}
