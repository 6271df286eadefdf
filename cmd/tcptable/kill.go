package main

import (
	"context"
	"errors"
	"runtime"

	"github.com/tcptable/tcptable"
)

// killUsageIntro and killUsageOutro frame kill's own flags (from
// flagDefs) in "tcptable kill --help".
const (
	killUsageIntro = `Usage: tcptable kill [selection flags] [--dry-run] [output flags]

Ends the TCP connections (and closes the listeners) the selection flags
select, as "ss -K" does on Linux and "close connection" in TCPView on
Windows, and prints the rows it ended, in the listing's format. Each kill
is verified: the row must be gone from the OS's table.

The selection flags are the listing's (see tcptable --help): -l, -4, -6,
--state, --port, --pid, --process. At least one is required: tcptable kill
never ends every connection of the host. --netns NAME|PATH ends them in
another network namespace, --all-netns in every one (Linux, root); the
rows printed then name their namespace (a NETNS column first).
`
	killUsageOutro = `
The output flags are the listing's too: --json, --ndjson, --csv, -r,
--sort, -H, -i.

Examples:
  tcptable kill --port 8080 --dry-run       what would end
  tcptable kill --port 8080                 end everything on port 8080
  tcptable kill --process curl --state established
  tcptable kill -l --pid 4242 --json        close process 4242's listeners

The process holding a killed socket gets an error on its next read or
write (ECONNABORTED on Linux); the remote end gets a reset. CLOSED rows
(bound sockets that neither listen nor connect) have nothing to end: they
are skipped with a note on stderr. Killing needs
root (CAP_NET_ADMIN) on Linux, Administrator on Windows.

Exit status: 0 when every selected row was ended (a row that ended by
itself meanwhile, such as the peer of a killed loopback connection, counts
as ended and is noted on stderr), 1 when none matched, any kill failed (each
failure is printed on stderr with its reason) or the table cannot be read,
2 for a bad command line.
`
)

// killUsageText returns what "tcptable kill --help" prints.
func killUsageText() string { return killUsageIntro + flagsHelp(cmdKill) + killUsageOutro }

// parseKillArgs parses the arguments of "tcptable kill": the listing's
// flags and --dry-run.
func parseKillArgs(args []string) (*options, error) {
	o, err := parseCommand(cmdKill, args)
	switch {
	case err != nil:
		return nil, err
	case o.help || o.version:
		return o, nil
	case o.watch > 0:
		return nil, usagef("kill ends connections once: --watch does not apply")
	case o.top > 0:
		return nil, usagef("kill ends connections once: --top does not apply")
	case o.summary:
		return nil, usagef("kill prints the rows it ends: --summary does not apply")
	case !selects(o.query):
		return nil, usagef("kill needs a selection (-l, -4, -6, --state, --port, --pid or --process): it never ends every connection")
	}
	return o, nil
}

// selects reports whether q selects less than the whole table.
func selects(q tcptable.Query) bool {
	return q.Class != tcptable.ClassAll || q.Family != tcptable.AnyFamily || len(q.States) > 0 ||
		q.Port != 0 || q.LocalPort != 0 || q.RemotePort != 0 || q.PID != 0 || q.Process != ""
}

// kill runs "tcptable kill" with args (after "kill") and returns the exit
// code.
func (a *app) kill(ctx context.Context, args []string) int {
	o, err := parseKillArgs(args)
	inner, code := a.open(cmdKill, o, err)
	if inner == nil {
		return code
	}
	defer inner.Close()
	k, ok := inner.(tcptable.Killer)
	if !ok && !o.dryRun {
		a.errorf("kill: the %T provider cannot end connections on %s: %v", inner, runtime.GOOS, tcptable.ErrNotSupported)
		return exitFail
	}
	rows, ok := a.snapshot(ctx, newOwnerFilter(inner), o.query)
	if !ok {
		return exitFail
	}
	sortRows(rows, o.sort)
	rows, skipped := a.skipClosed(rows)
	if !o.dryRun {
		rows, code = a.killRows(ctx, k, rows)
	}
	if len(rows) == 0 && code == exitOK {
		if skipped > 0 {
			a.errorf("kill: nothing to end: the %d matching rows are CLOSED", skipped)
		} else {
			a.errorf("kill: no connection matched")
		}
		code = exitFail
	}
	d := a.display(o)
	d.netns = o.ns.set() // a row ended in another namespace says which
	if err := a.writeRows(ctx, rows, o, d); err != nil {
		a.errorf("writing output: %v", err)
		return exitFail
	}
	return code
}

// skipClosed drops the CLOSED rows, noting each on stderr, and returns
// the others and how many it dropped. A CLOSED row (on Linux a socket
// that is bound but neither listens nor connects, such as a listener
// already killed whose holder keeps it) has no connection to end: killing
// it could only fail or end nothing.
func (a *app) skipClosed(rows []tcptable.Connection) ([]tcptable.Connection, int) {
	kept := rows[:0]
	for _, c := range rows {
		if c.State == tcptable.StateClosed {
			a.errorf("kill %s: skipped: a CLOSED socket has no connection to end", printable(c.String()))
			continue
		}
		kept = append(kept, c)
	}
	return kept, len(rows) - len(kept)
}

// killRows ends rows one by one and returns those it ended, and exitFail
// if any kill failed. A row already gone (tcptable.ErrNotFound: it ended
// meanwhile, as the peer of a killed loopback connection does) is noted
// on stderr and not a failure; once ctx ends, the rows left are not
// tried.
func (a *app) killRows(ctx context.Context, k tcptable.Killer, rows []tcptable.Connection) ([]tcptable.Connection, int) {
	code := exitOK
	ended := make([]tcptable.Connection, 0, len(rows))
	for i, c := range rows {
		if err := ctx.Err(); err != nil {
			a.errorf("kill: stopped (%v) before %d of %d rows", err, len(rows)-i, len(rows))
			return ended, exitFail
		}
		err := k.Kill(ctx, c)
		switch {
		case err == nil:
			ended = append(ended, c)
		case errors.Is(err, tcptable.ErrNotFound):
			a.errorf("kill %s: already gone", printable(c.String()))
		default:
			a.errorf("kill %s: %s", printable(c.String()), printable(err.Error()))
			code = exitFail
		}
	}
	return ended, code
}
