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
	"strings"
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

func main() { os.Exit(runMain(os.Args[1:])) }

// runMain runs the command line args as the binary does: on this host's
// provider, with the real clock, resolver and terminal, until Ctrl-C or
// SIGTERM cancels it; it returns the exit code.
func runMain(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{
		stdout:             os.Stdout,
		stderr:             os.Stderr,
		newProvider:        native.New,
		newOneShotProvider: newOneShotProvider,
		newNSProvider:      newNSProvider,
		lookup:             net.DefaultResolver.LookupAddr,
		resolveTimeout:     defaultResolveTimeout,
		now:                time.Now,
		tz:                 time.Local,
		terminal:           stdoutTerminal,
	}
	return a.run(ctx, args)
}

// app is the command with everything it touches injected, so that tests
// run it against the mock provider, a fake resolver and a fixed clock.
type app struct {
	stdout, stderr io.Writer
	newProvider    func() (tcptable.Provider, error)
	// newOneShotProvider, when not nil, makes the provider of a command
	// that reads the table once or kills (app.provider); newProvider
	// otherwise.
	newOneShotProvider func() (tcptable.Provider, error)
	newNSProvider      func(nsOptions) (tcptable.Provider, error) // --netns, --all-netns
	lookup             lookupFunc
	resolveTimeout     time.Duration
	now                func() time.Time // stamps --watch events and --top polls
	tz                 *time.Location   // for times shown to people
	// terminal reports the size of the terminal stdout is, or false when
	// it is none (--top redraws a terminal in place); nil means none.
	terminal func() (width, height int, ok bool)
}

// run executes the command line args (without the program name) and
// returns the exit code. A first argument naming a subcommand ("kill",
// "serve") runs it.
func (a *app) run(ctx context.Context, args []string) int {
	if len(args) > 0 {
		switch subcommand(args[0]) {
		case cmdKill:
			return a.kill(ctx, args[1:]) // kill.go
		case cmdServe:
			return a.serve(ctx, args[1:]) // serve.go
		}
	}
	o, err := parseArgs(args)
	inner, code := a.open(cmdList, o, err)
	if inner == nil {
		return code
	}
	defer inner.Close()
	p := newOwnerFilter(inner)
	d := a.display(o)
	if o.watch > 0 {
		return a.watch(ctx, p, o, d)
	}
	if o.top > 0 {
		return a.top(ctx, p, o, d)
	}
	return a.table(ctx, p, o, d)
}

// open does what command cmd does before its work: it reports a bad
// command line (err, pointing at cmd's help), prints cmd's help or the
// version when asked, and opens the provider (of the namespaces o's
// --netns or --all-netns names, if any). A nil provider means the command
// is done, with code.
func (a *app) open(cmd cmdSet, o *options, err error) (tcptable.Provider, int) {
	switch {
	case err != nil:
		fmt.Fprintf(a.stderr, "tcptable: %v (see %s)\n", err, cmd.seeHelp())
		return nil, exitUsage
	case o.help:
		fmt.Fprint(a.stdout, cmd.help())
		return nil, exitOK
	case o.version:
		fmt.Fprintln(a.stdout, versionLine())
		return nil, exitOK
	}
	p, err := a.provider(o, cmd != cmdServe && o.watch == 0 && o.top == 0)
	if err != nil {
		a.errorf("%v", err)
		return nil, providerExit(err)
	}
	return p, exitOK
}

// display returns how o shows rows to people.
func (a *app) display(o *options) *display {
	d := &display{tz: a.tz, noHeader: o.noHeader, stats: o.query.Stats, netns: o.ns.all}
	if o.resolve {
		d.names = map[netip.Addr]string{}
	}
	return d
}

// snapshot reads the rows q selects; it prints an error and returns false
// when it cannot, warns when the OS said the table changed meanwhile, and
// notes hidden owners and the namespaces --all-netns could not read.
func (a *app) snapshot(ctx context.Context, p filtered, q tcptable.Query) ([]tcptable.Connection, bool) {
	rows, err := p.Table(ctx, q)
	switch {
	case errors.Is(err, tcptable.ErrInconsistent) && rows != nil:
		a.errorf("warning: %s", strings.TrimPrefix(err.Error(), rootPrefix))
	case err != nil:
		a.errorf("%v", err)
		return nil, false
	}
	a.noteHidden(p, q)
	a.noteSkippedNetNS(p)
	return rows, true
}

// table prints one snapshot in the chosen format.
func (a *app) table(ctx context.Context, p filtered, o *options, d *display) int {
	rows, ok := a.snapshot(ctx, p, o.query)
	if !ok {
		return exitFail
	}
	var err error
	if o.summary {
		err = summarize(rows).write(a.stdout, o.format, o.noHeader)
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
		return writeCSV(a.stdout, rows, o.noHeader, o.query.Stats)
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

// rootPrefix starts the root package's error texts ("tcptable: provider
// closed", "tcptable: table changed ..."): the command's own "tcptable: " says
// it, once.
const rootPrefix = "tcptable: "

// errorf prints one "tcptable: ..." line on stderr, escaped as printable
// says: errors may quote what the OS handed over. A message that starts
// with the root package's prefix does not repeat it.
func (a *app) errorf(format string, args ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, args...), rootPrefix)
	if !isPlain(msg) {
		msg = printable(msg)
	}
	fmt.Fprintf(a.stderr, "tcptable: %s\n", msg)
}
