package conformance

import (
	"fmt"
	"strings"

	"github.com/tcptable/tcptable"
)

// LongName is the process name the LongName check asks a NamingEnv for:
// 36 bytes, more than any OS keeps of a process name.
const LongName = "tcptable-conformance-long-name-check"

// checkLongName: a tcp4 listener held by a process named LongName
// (NamingEnv) is reported with that process' PID and Module.Name LongName,
// and Query.Process with LongName in upper case finds exactly that row.
// With NoLongName a non-empty start of the name passes (and the query
// may find nothing); with NoModule or NoListenerPID the row may have no
// name or no PID. An Env that cannot name a process skips.
func checkLongName(s *session, _ string) {
	env, ok := s.env.(NamingEnv)
	if !ok {
		s.t.Skipf("Env %T does not implement conformance.NamingEnv: it cannot start a process with a long name", s.env)
	}
	ln, pid, err := env.ListenAs("tcp4", LongName)
	s.skipUnsupported("ListenAs", err)
	s.t.Cleanup(func() { _ = ln.Close() })
	if pid == 0 || pid == s.me.pid {
		s.t.Fatalf("Env.ListenAs gave PID %d: want another process than this one (%d)", pid, s.me.pid)
	}
	tp := tuple{ln.Addr(), unspecified(ln.Addr())}
	var row tcptable.Connection
	s.eventually(fmt.Sprintf("listener %v of process %d named %q", ln.Addr(), pid, LongName), func(rows []tcptable.Connection) error {
		c, err := expect(rows, tp, tcptable.StateListen)
		if err != nil {
			return err
		}
		row = *c
		return s.longNamed(c, pid)
	})
	if row.PID == 0 || row.Module.Name != LongName {
		s.t.Logf("listener %s: Module.Name %q (gaps %v, %v, %v)", describe(&row), row.Module.Name, NoListenerPID, NoModule, NoLongName)
		return
	}
	q := tcptable.Query{Process: strings.ToUpper(LongName), LocalPort: ln.Addr().Port()}
	rows := s.table(q)
	if got := lookup(rows, tp); len(got) != 1 || len(rows) != 1 {
		s.t.Errorf("Table(%s): %d rows (%s), want the one listener %v of process %d", showQuery(q), len(rows), describeAll(lookup(rows, tp)), ln.Addr(), pid)
	}
}

// longNamed checks the owner of the LongName listener.
func (s *session) longNamed(c *tcptable.Connection, pid uint32) error {
	switch {
	case c.PID == 0 && s.cfg.has(NoListenerPID):
		return nil
	case c.PID != pid:
		return fmt.Errorf("listener %s: PID %d, want %d (the process named %q)", describeOwners(c), c.PID, pid, LongName)
	case c.Module.Name == LongName:
		return nil
	case c.Module.Name == "" && s.cfg.has(NoModule):
		return nil
	case c.Module.Name != "" && strings.HasPrefix(LongName, c.Module.Name) && s.cfg.has(NoLongName):
		return nil
	}
	return fmt.Errorf("listener %s: Module.Name %q, want %q, the whole name of its process (declare %v if the OS keeps only its start)",
		describe(c), c.Module.Name, LongName, NoLongName)
}
