package conformance

import (
	"fmt"
	"slices"

	"github.com/tcptable/tcptable"
)

// checkSharedListener: a tcp4 listener that another process holds too
// (SharingEnv) lists both holders among its owners, this process and the
// other one; once the other process lets go, its PID disappears. With
// NoOtherPIDs, one of the holders suffices. An Env that cannot share skips.
func checkSharedListener(s *session, _ string) {
	env, ok := s.env.(SharingEnv)
	if !ok {
		s.t.Skipf("Env %T does not implement conformance.SharingEnv: it cannot make another process hold a listener", s.env)
	}
	ln := s.listen("tcp4")
	pid, stop, err := env.Share(ln)
	s.skipUnsupported("Share", err)
	s.t.Cleanup(func() { _ = stop() })
	if pid == 0 || pid == s.me.pid {
		s.t.Fatalf("Env.Share(%v) gave PID %d: want another process than this one (%d)", ln.Addr(), pid, s.me.pid)
	}
	tp := tuple{ln.Addr(), unspecified(ln.Addr())}
	both := []uint32{s.me.pid, pid}
	var missing []uint32
	s.eventually(fmt.Sprintf("listener %v held by this process (%d) and process %d", ln.Addr(), s.me.pid, pid), func(rows []tcptable.Connection) (err error) {
		missing, err = s.heldBy(rows, tp, both)
		return err
	})
	if len(missing) == len(both) {
		s.t.Logf("listener %v: no owner reported (gap %v)", ln.Addr(), NoListenerPID)
	} else if len(missing) > 0 {
		s.t.Logf("listener %v: holders %v not among its owners (gap %v)", ln.Addr(), missing, NoOtherPIDs)
	}
	if err := stop(); err != nil {
		s.t.Fatalf("stopping process %d that shares listener %v: %v", pid, ln.Addr(), err)
	}
	s.eventually(fmt.Sprintf("process %d gone from the owners of listener %v after it let go", pid, ln.Addr()), func(rows []tcptable.Connection) error {
		_, err := s.heldBy(rows, tp, both[:1])
		return err
	})
}

// heldBy checks that listener tp is owned by exactly the processes want
// (Connection.Owners, in any order). With NoOtherPIDs some of them may be
// missing as long as one is there, and with NoListenerPID all of them; it
// returns those missing.
func (s *session) heldBy(rows []tcptable.Connection, tp tuple, want []uint32) (missing []uint32, err error) {
	row, err := expect(rows, tp, tcptable.StateListen)
	if err != nil {
		return nil, err
	}
	got := row.Owners()
	for _, pid := range got {
		if !slices.Contains(want, pid) {
			return nil, fmt.Errorf("listener %s lists owner %d, which does not hold it: want owners %v", describeOwners(row), pid, want)
		}
	}
	for _, pid := range want {
		if !slices.Contains(got, pid) {
			missing = append(missing, pid)
		}
	}
	if len(missing) == 0 || (len(got) == 0 && s.cfg.has(NoListenerPID)) || (len(got) > 0 && s.cfg.has(NoOtherPIDs)) {
		return missing, nil
	}
	return nil, fmt.Errorf("listener %s: owners %v, want %v (declare %v if the platform names one owner per socket)", describeOwners(row), got, want, NoOtherPIDs)
}

// describeOwners is describe with the row's OtherPIDs.
func describeOwners(c *tcptable.Connection) string {
	return fmt.Sprintf("%s other-pids=%v", describe(c), c.OtherPIDs)
}
