// Command tcptable prints the host's TCP endpoints with their state, owning
// process and, where the OS records it, creation time: like ss -tanp or
// netstat -ano, but the same on every OS. Run it with --help for the flags
// and examples; docs/cli.md has more.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/providers/native"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // the table could not be read
	exitUsage = 2 // bad command line
)

// defaultResolveTimeout bounds all the reverse lookups of one -r run.
const defaultResolveTimeout = 2 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	a := &app{
		stdout:         os.Stdout,
		stderr:         os.Stderr,
		newProvider:    native.New,
		lookup:         net.DefaultResolver.LookupAddr,
		resolveTimeout: defaultResolveTimeout,
		now:            time.Now,
		tz:             time.Local,
	}
	code := a.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// app is the command with everything it touches injected, so that tests
// run it against the mock provider, a fake resolver and a fixed clock.
type app struct {
	stdout, stderr io.Writer
	newProvider    func() (tcptable.Provider, error)
	lookup         lookupFunc
	resolveTimeout time.Duration
	now            func() time.Time // stamps --watch events
	tz             *time.Location   // for times shown to people
}

// run executes the command line args (without the program name) and
// returns the exit code.
func (a *app) run(ctx context.Context, args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		return a.serve(ctx, args[1:]) // serve.go
	}
	o, err := parseArgs(args)
	if err != nil {
		fmt.Fprintf(a.stderr, "tcptable: %v (see tcptable --help)\n", err)
		return exitUsage
	}
	switch {
	case o.help:
		fmt.Fprint(a.stdout, usageText)
		return exitOK
	case o.version:
		fmt.Fprintln(a.stdout, versionLine())
		return exitOK
	}
	p, err := a.newProvider()
	if err != nil {
		a.errorf("%v", err)
		return exitFail
	}
	defer p.Close()
	d := &display{tz: a.tz}
	if o.resolve {
		d.names = map[netip.Addr]string{}
	}
	if o.watch > 0 {
		return a.watch(ctx, p, o, d)
	}
	return a.table(ctx, p, o, d)
}

// table prints one snapshot in the chosen format.
func (a *app) table(ctx context.Context, p tcptable.Provider, o *options, d *display) int {
	rows, err := p.Table(ctx, o.query)
	switch {
	case errors.Is(err, tcptable.ErrInconsistent) && rows != nil:
		a.errorf("warning: %v", err)
	case err != nil:
		a.errorf("%v", err)
		return exitFail
	}
	a.noteHidden(rows)
	if o.summary {
		err = summarize(rows).write(a.stdout, o.format)
	} else {
		sortRows(rows, o.sort)
		err = a.writeRows(ctx, rows, o, d)
	}
	if err != nil {
		a.errorf("writing output: %v", err)
		return exitFail
	}
	return exitOK
}

// writeRows prints rows in o's format.
func (a *app) writeRows(ctx context.Context, rows []tcptable.Connection, o *options, d *display) error {
	switch o.format {
	case formatJSON:
		return writeJSON(a.stdout, rows)
	case formatNDJSON:
		return writeNDJSON(a.stdout, rows)
	case formatCSV:
		return writeCSV(a.stdout, rows)
	}
	if d.names != nil {
		resolveNames(ctx, a.lookup, a.resolveTimeout, d.names, rowAddrs(rows))
	}
	return d.writeTable(a.stdout, rows)
}

// rowAddrs lists the local and remote addresses of rows.
func rowAddrs(rows []tcptable.Connection) []netip.Addr {
	out := make([]netip.Addr, 0, 2*len(rows))
	for i := range rows {
		out = append(out, rows[i].Local.Addr(), rows[i].Remote.Addr())
	}
	return out
}

// errorf prints one "tcptable: ..." line on stderr.
func (a *app) errorf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "tcptable: "+format+"\n", args...)
}

// noteHidden says on stderr, in one line, how many rows have owners the
// caller may not see, and why.
func (a *app) noteHidden(rows []tcptable.Connection) bool {
	n := 0
	for i := range rows {
		if rows[i].OwnerStatus == tcptable.OwnerPermissionDenied || rows[i].ModuleStatus == tcptable.OwnerPermissionDenied {
			n++
		}
	}
	if n == 0 {
		return false
	}
	a.errorf("owners of %d of %d endpoints are hidden: permission denied (%s)", n, len(rows), privilegeHint(runtime.GOOS, os.Geteuid() == 0))
	return true
}

// privilegeHint says how to see every owner on goos; root says whether the
// caller already is root (never on Windows, where os.Geteuid is -1).
func privilegeHint(goos string, root bool) string {
	switch {
	case goos == "windows":
		return "protected or other users' processes; run as Administrator to see them"
	case root:
		return "processes even root may not inspect, such as a sandbox's or container's init"
	}
	return "other users' processes; run as root to see them"
}
