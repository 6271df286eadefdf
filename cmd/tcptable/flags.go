package main

import (
	"flag"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/metrics"
)

// format is an output format.
type format uint8

const (
	formatTable format = iota
	formatJSON
	formatNDJSON
	formatCSV
)

// defaultInterval is the --watch interval when none is given; minInterval
// keeps a typo such as --watch 1ns from spinning a core.
const (
	defaultInterval = time.Second
	minInterval     = 10 * time.Millisecond
)

// options is a parsed command line.
type options struct {
	query    tcptable.Query
	format   format
	watch    time.Duration // 0: print the table once
	top      time.Duration // 0: no live view
	dryRun   bool          // kill --dry-run: print what would be ended
	serve    serveOptions  // tcptable serve
	poll     bool          // --poll: --watch polls even where the OS reports events
	summary  bool
	resolve  bool
	noHeader bool
	sort     sortKey
	help     bool
	version  bool
	ns       nsOptions // --netns, --all-netns
}

// rawFlags holds what the flags set before parse checks their combination
// and turns it into options.
type rawFlags struct {
	listen, v4, v6    bool
	json, ndjson, csv bool
	watchValue        string        // what --watch was given: "true" when alone
	pollEvery         time.Duration // --poll INTERVAL; 0 when alone or not given
	err               error         // the first error a flag's value gave
}

// flagKind says how a flag takes values.
type flagKind uint8

const (
	// boolFlag takes no value ("-l"); giving it twice changes nothing.
	boolFlag flagKind = iota
	// valueFlag takes one non-empty value ("--port 80"), once.
	valueFlag
	// listFlag takes non-empty values and may be given again: the values
	// add up ("--state LISTEN --state ESTAB" is "--state LISTEN,ESTAB").
	listFlag
	// optionalFlag may stand alone or take a value ("--watch",
	// "--watch 2s"), once.
	optionalFlag
)

// flagDef declares one flag: every name it answers to, how it takes
// values, what it does with one, and what --help says of it. flagDefs is
// the one place a flag is declared; the flag set and the help text are
// built from it.
type flagDef struct {
	names []string // a one-letter name first, if any; one-letter booleans combine ("-lt4")
	kind  flagKind
	arg   string // what --help shows for the value ("N", "[INTERVAL]"); "" for booleans
	help  string // for --help; "\n" starts a continuation line
	group string // the --help section
	// set applies one value ("true" for a boolean); an error it returns is
	// a usage error, worded for the user.
	set func(o *options, r *rawFlags, v string) error
	// empty says what the value should have been, for the error an empty
	// value gives ("a process ID").
	empty string
	// cmds are the commands that take the flag (see takes); none for the
	// listing's flags, which kill takes too.
	cmds cmdSet
}

// The --help sections, in order.
const (
	groupSelect = "Selection (conditions combine; the default is every endpoint)"
	groupOutput = "Output"
	groupOther  = "Other"
	groupKill   = "Kill"
	groupServe  = "Serve"
)

// setBool returns a boolean flag's set function, storing into the field p
// returns.
func setBool(p func(o *options, r *rawFlags) *bool) func(o *options, r *rawFlags, v string) error {
	return func(o *options, r *rawFlags, v string) error {
		*p(o, r) = v == "true"
		return nil
	}
}

// flagDefs are the command's flags, in --help order.
var flagDefs = [...]flagDef{
	{names: []string{"a", "all"}, help: "every endpoint (the default)", group: groupSelect,
		set: func(*options, *rawFlags, string) error { return nil }},
	{names: []string{"l", "listening"}, help: "listeners only", group: groupSelect,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.listen })},
	{names: []string{"4", "ipv4"}, help: "IPv4 only (with dual-stack [::] listeners,\nwhich accept IPv4 too)", group: groupSelect,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.v4 })},
	{names: []string{"6", "ipv6"}, help: "IPv6 only", group: groupSelect,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.v6 })},
	{names: []string{"state"}, kind: listFlag, arg: "S[,S...]", group: groupSelect, empty: "a TCP state",
		help: "only these states, in any usual spelling:\nLISTEN, ESTABLISHED, ESTAB, TIME_WAIT, SYN-RECV, 5\n(repeat to add more)",
		set:  setStates},
	{names: []string{"port"}, kind: valueFlag, arg: "N", help: "local or remote port N (1..65535)", group: groupSelect,
		empty: "a port number", set: setPort},
	{names: []string{"pid"}, kind: valueFlag, arg: "N", help: "owned by process N", group: groupSelect,
		empty: "a process ID", set: setPID},
	{names: []string{"process"}, kind: valueFlag, arg: "NAME", help: "owned by a process named NAME (any case)", group: groupSelect,
		empty: "a process name", set: func(o *options, _ *rawFlags, v string) error { o.query.Process = v; return nil }},
	{names: []string{"netns"}, kind: valueFlag, arg: "NAME|PATH", group: groupSelect, empty: "a namespace name or path", cmds: cmdList | cmdServe,
		help: "the network namespace NAME (under /run/netns, as ip\nnetns names it) or the namespace file PATH, such as\n/proc/PID/ns/net (Linux; entering it needs root)",
		set:  func(o *options, _ *rawFlags, v string) error { o.ns.netns = v; return nil }},
	{names: []string{"all-netns"}, group: groupSelect, cmds: cmdList | cmdServe,
		help: "every network namespace of the host in one table\n(Linux; without root: the own namespace, and one\nstderr line saying which others were skipped); the\nlisting shows a NETNS column (name or inode) first",
		set:  setBool(func(o *options, _ *rawFlags) *bool { return &o.ns.all })},
	{names: []string{"t", "tcp"}, help: "TCP (always; accepted for ss habits)", group: groupSelect,
		set: func(*options, *rawFlags, string) error { return nil }},

	{names: []string{"n", "numeric"}, help: "numeric addresses (the default: no DNS unless -r)", group: groupOutput,
		set: func(*options, *rawFlags, string) error { return nil }},
	{names: []string{"r", "resolve"}, help: "host names by reverse DNS (2s at most in all)", group: groupOutput,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.resolve })},
	{names: []string{"p", "processes"}, help: "owners (always shown; accepted for ss habits)", group: groupOutput,
		set: func(*options, *rawFlags, string) error { return nil }},
	{names: []string{"sort"}, kind: valueFlag, arg: "COLUMN", group: groupOutput, empty: "a column name",
		help: "order rows by a column: state, local, remote, pid,\nprocess, path, created, first_seen, uid, inode, ...\n(-COLUMN reverses; the default is local, remote)",
		set:  setSort},
	{names: []string{"H", "no-header"}, help: "no header line (table, CSV and --watch)", group: groupOutput,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.noHeader })},
	{names: []string{"json"}, help: "one JSON array", group: groupOutput,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.json })},
	{names: []string{"ndjson"}, help: "one JSON object a line", group: groupOutput,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.ndjson })},
	{names: []string{"csv"}, help: "CSV with a header row (the JSON keys)", group: groupOutput,
		set: setBool(func(_ *options, r *rawFlags) *bool { return &r.csv })},
	{names: []string{"i", "info"}, group: groupOutput,
		help: "traffic statistics, like ss -i: the table and\n--watch lines get SENT, RECEIVED, RTT, RETRANS and\nCWND columns, JSON a \"stats\" object, CSV stats_*\ncolumns (bytes, segments, RTT, congestion window,\nrates, ...)",
		set:  setBool(func(o *options, _ *rawFlags) *bool { return &o.query.Stats })},
	{names: []string{"s", "summary"}, help: "counts by state instead of rows (like ss -s)", group: groupOutput,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.summary })},
	{names: []string{"watch"}, kind: optionalFlag, arg: "[INTERVAL]", group: groupOutput,
		help: "print changes as they happen until Ctrl-C: opened,\nclosed, state-changed, owner-changed; from kernel\nevents where the OS permits (Linux with BPF), so\nthat connections living a millisecond show, else\nby polling every INTERVAL (1s by default; 500ms,\n2s, or seconds: 2); stderr says which",
		set:  setWatch},
	{names: []string{"poll"}, kind: optionalFlag, arg: "[INTERVAL]", group: groupOutput,
		help: "with --watch: poll even where kernel events work;\nan INTERVAL here is --watch's (--watch --poll 2s)",
		set:  setPoll},
	{names: []string{"top"}, kind: optionalFlag, arg: "[INTERVAL]", group: groupOutput,
		help: "live view of the busiest processes and connections\nby bytes per second, redrawn every INTERVAL (1s) on\na terminal until Ctrl-C; blocks of text when the\noutput is not a terminal; with --ndjson a JSON line\na poll",
		set:  setInterval("--top", func(o *options) *time.Duration { return &o.top })},

	{names: []string{"dry-run"}, help: "print what would be ended, end nothing", group: groupKill, cmds: cmdKill,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.dryRun })},

	{names: []string{"listen"}, kind: valueFlag, arg: "ADDR", group: groupServe, cmds: cmdServe, empty: "an address, such as " + defaultServeListen,
		help: "address to serve on (default " + defaultServeListen + ";\nuse :9814 to serve on every interface)",
		set:  func(o *options, _ *rawFlags, v string) error { o.serve.listen = v; return nil }},
	{names: []string{"top-processes"}, kind: valueFlag, arg: "N", group: groupServe, cmds: cmdServe, empty: "a number of processes",
		help: "processes with series of their own (default " + strconv.Itoa(metrics.DefaultTopProcesses) + ")",
		set:  setCount("--top-processes", func(o *options) *int { return &o.serve.top })},
	{names: []string{"top-netns"}, kind: valueFlag, arg: "N", group: groupServe, cmds: cmdServe, empty: "a number of namespaces",
		help: "namespaces with series of their own (default " + strconv.Itoa(metrics.DefaultTopNetNS) + ")",
		set:  setCount("--top-netns", func(o *options) *int { return &o.serve.topNetNS })},
	{names: []string{"top-containers"}, kind: valueFlag, arg: "N", group: groupServe, cmds: cmdServe, empty: "a number of containers",
		help: "containers with series of their own (default " + strconv.Itoa(metrics.DefaultTopContainers) + ")",
		set:  setCount("--top-containers", func(o *options) *int { return &o.serve.topContainers })},
	{names: []string{"max-listeners"}, kind: valueFlag, arg: "N", group: groupServe, cmds: cmdServe, empty: "a number of listeners",
		help: "listener series at most (default " + strconv.Itoa(metrics.DefaultMaxListeners) + ")",
		set:  setCount("--max-listeners", func(o *options) *int { return &o.serve.maxListeners })},
	{names: []string{"timeout"}, kind: valueFlag, arg: "DURATION", group: groupServe, cmds: cmdServe, empty: "a duration such as 10s",
		help: "longest table read when Prometheus sends no\nscrape timeout (default " + metrics.DefaultTimeout.String() + ")",
		set:  setServeTimeout},

	{names: []string{"h", "help"}, help: "this help", group: groupOther, cmds: cmdAll,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.help })},
	{names: []string{"V", "version"}, help: "version and build information", group: groupOther, cmds: cmdAll,
		set: setBool(func(o *options, _ *rawFlags) *bool { return &o.version })},
}

// shortBools are the one-letter boolean flags, which may be combined as
// in "ss -tlnp".
var shortBools = func() string {
	var b strings.Builder
	for _, d := range flagDefs {
		if d.kind == boolFlag && len(d.names[0]) == 1 {
			b.WriteString(d.names[0])
		}
	}
	return b.String()
}()

// flagValue is one declared flag as package flag sees it, under each of
// its names. It counts how often the flag was given (under any name) to
// refuse a second value where only one makes sense, refuses empty values,
// and keeps the first error in rawFlags, since package flag rewords what
// Set returns.
type flagValue struct {
	def  *flagDef
	o    *options
	r    *rawFlags
	n    *int   // how many times the flag was given, under any name
	last string // the value it was given last
}

func (v *flagValue) IsBoolFlag() bool { return v.def.kind == boolFlag || v.def.kind == optionalFlag }

func (v *flagValue) String() string { return "" }

func (v *flagValue) Set(s string) error {
	err := v.set(s)
	if err != nil && v.r.err == nil {
		v.r.err = err
	}
	return err
}

// set checks and applies one value.
func (v *flagValue) set(s string) error {
	d := v.def
	name := flagName(d)
	*v.n++
	prev := v.last
	v.last = s
	switch {
	case d.kind == boolFlag:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return usagef("flag %s takes no value (got %q)", name, s)
		}
		s = strconv.FormatBool(b)
	case (d.kind == valueFlag || d.kind == listFlag) && s == "":
		return usagef("empty %s: want %s", name, d.empty)
	case (d.kind == valueFlag || d.kind == optionalFlag) && *v.n > 1:
		return usagef("%s given twice (%s, then %s): give it once", name, shownValue(prev), shownValue(s))
	}
	return d.set(v.o, v.r, s)
}

// shownValue quotes a flag's value for a message; an optional flag given
// alone shows as such.
func shownValue(s string) string {
	if s == "true" {
		return "alone"
	}
	return strconv.Quote(s)
}

// flagName is the name a message uses for d: its long name with "--",
// or its only name.
func flagName(d *flagDef) string {
	n := d.names[len(d.names)-1]
	if len(n) == 1 {
		return "-" + n
	}
	return "--" + n
}

// newFlagSet declares the flags of flagDefs that command cmd takes, each
// under all its names, to set o and raw.
func newFlagSet(o *options, raw *rawFlags, cmd cmdSet) *flag.FlagSet {
	fs := flag.NewFlagSet("tcptable", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	for i := range flagDefs {
		if !flagDefs[i].takes(cmd) {
			continue
		}
		v := &flagValue{def: &flagDefs[i], o: o, r: raw, n: new(int)}
		for _, n := range flagDefs[i].names {
			fs.Var(v, n, flagDefs[i].help)
		}
	}
	return fs
}

// setStates adds the comma-separated states of v to the query.
func setStates(o *options, _ *rawFlags, v string) error {
	for s := range strings.SplitSeq(v, ",") {
		st, err := tcptable.ParseState(s)
		if err != nil {
			return usagef("bad --state %q: not a TCP state (try LISTEN, ESTABLISHED, TIME-WAIT, SYN-RECV, ...)", s)
		}
		o.query.States = append(o.query.States, st)
	}
	return nil
}

// setPort sets the query's port.
func setPort(o *options, _ *rawFlags, v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n < 1 || n > 65535 {
		return usagef("bad --port %q: want a number in 1..65535", v)
	}
	o.query.Port = uint16(n)
	return nil
}

// setPID sets the query's owning process.
func setPID(o *options, _ *rawFlags, v string) error {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || n == 0 {
		return usagef("bad --pid %q: want a process ID (a positive number)", v)
	}
	o.query.PID = uint32(n)
	return nil
}

// setSort sets the sort order.
func setSort(o *options, _ *rawFlags, v string) error {
	k, err := parseSortKey(v)
	if err != nil {
		return err
	}
	o.sort = k
	return nil
}

// setInterval returns the set function of an optional interval flag
// (--watch, --top, as name says) that keeps its interval in *field(o):
// the default when given alone.
func setInterval(name string, field func(o *options) *time.Duration) func(*options, *rawFlags, string) error {
	return func(o *options, _ *rawFlags, v string) error {
		switch v {
		case "true":
			*field(o) = defaultInterval
			return nil
		case "false":
			*field(o) = 0
			return nil
		}
		d, err := parseInterval(name, v)
		if err != nil {
			return err
		}
		*field(o) = d
		return nil
	}
}

// setWatch sets the --watch interval and remembers how it was given, so
// that apply can tell "--watch --poll 2s" from "--watch 1s --poll 2s".
func setWatch(o *options, r *rawFlags, v string) error {
	r.watchValue = v
	return setInterval("--watch", func(o *options) *time.Duration { return &o.watch })(o, r, v)
}

// setPoll sets --poll, alone or with the interval that --watch would
// otherwise take ("--watch --poll 2s").
func setPoll(o *options, r *rawFlags, v string) error {
	switch v {
	case "true", "false":
		o.poll = v == "true"
		return nil
	}
	d, err := parseInterval("--poll", v)
	if err != nil {
		return err
	}
	o.poll, r.pollEvery = true, d
	return nil
}

// applyPoll checks --poll against --watch and gives --watch the interval
// --poll was given.
func (r *rawFlags) applyPoll(o *options) error {
	switch {
	case o.poll && o.watch == 0:
		return usagef("--poll says how --watch follows changes: add --watch")
	case r.pollEvery == 0:
		return nil
	case r.watchValue != "true":
		return usagef("the interval is given twice (--watch %s, --poll %s): give it once, as --watch %s --poll",
			r.watchValue, r.pollEvery, r.pollEvery)
	}
	o.watch = r.pollEvery
	return nil
}

// parseInterval accepts a Go duration ("500ms", "2s") or a number of
// seconds ("2", "0.5"), as watch(1) and netstat -c users type it; flag
// names the flag in messages ("--watch").
func parseInterval(flag, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f { // NaN
			return 0, usagef("bad %s interval %q: want a duration such as 2s or 500ms, or a number of seconds", flag, s)
		}
		if f > float64(24*time.Hour/time.Second) {
			return 0, usagef("bad %s interval %q: at most 24h", flag, s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < minInterval || d > 24*time.Hour {
		return 0, usagef("bad %s interval %q: must be between %v and 24h", flag, s, minInterval)
	}
	return d, nil
}

// parseArgs parses the command line (without the program name).
func parseArgs(args []string) (*options, error) { return parseCommand(cmdList, args) }

// parseCommand parses the arguments of command cmd (after its name, for a
// subcommand): the flags flagDefs gives it.
func parseCommand(cmd cmdSet, args []string) (*options, error) {
	o := &options{serve: defaultServeOptions()}
	var raw rawFlags
	fs := newFlagSet(o, &raw, cmd)
	norm, err := normalizeArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(norm); err != nil {
		if raw.err != nil {
			return nil, raw.err
		}
		return nil, flagError(err, args)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (%s takes flags only)", fs.Arg(0), cmd.name())
	}
	if o.help || o.version {
		return o, nil
	}
	if err := raw.apply(o); err != nil {
		return nil, err
	}
	return o, nil
}

// apply checks the combination of flags and sets the query's class and
// family and the format.
func (r *rawFlags) apply(o *options) error {
	q := &o.query
	if r.listen {
		q.Class = tcptable.ClassListeners
	}
	switch {
	case r.v4 && !r.v6:
		q.Family = tcptable.IPv4
	case r.v6 && !r.v4:
		q.Family = tcptable.IPv6
	}
	if err := o.ns.check(); err != nil {
		return err
	}
	if err := r.applyFormat(o); err != nil {
		return err
	}
	if o.summary && o.watch == 0 {
		// Counts need no owners, and resolving them is where the time goes.
		// (Query.Detail still resolves what --pid and --process need.)
		q.Owners = tcptable.OwnerNone
	}
	return nil
}

// applyFormat picks the output format and rejects combinations that make
// no sense.
func (r *rawFlags) applyFormat(o *options) error {
	n := 0
	for _, f := range []struct {
		on bool
		f  format
	}{{r.json, formatJSON}, {r.ndjson, formatNDJSON}, {r.csv, formatCSV}} {
		if f.on {
			o.format = f.f
			n++
		}
	}
	switch {
	case n > 1:
		return usagef("--json, --ndjson and --csv exclude each other")
	case o.watch > 0 && o.format == formatJSON:
		return usagef("--watch prints a stream: use --ndjson instead of --json")
	case o.watch > 0 && o.format == formatCSV:
		return usagef("--watch does not print CSV: use --ndjson or the default text")
	case o.watch > 0 && o.sort.col != nil:
		return usagef("--sort orders a table; --watch prints events as they come")
	case o.summary && o.sort.col != nil:
		return usagef("--summary prints counts by state: --sort orders rows and does not apply")
	case o.summary && o.query.Stats:
		return usagef("--summary prints counts by state: -i (per-connection statistics) does not apply")
	}
	if err := r.applyPoll(o); err != nil {
		return err
	}
	return applyStatsOptions(o)
}
