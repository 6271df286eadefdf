package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tcptable/tcptable"
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
	query   tcptable.Query
	format  format
	watch   time.Duration // 0: print the table once
	poll    bool          // --poll: --watch polls even where the OS reports events
	summary bool
	resolve bool
	sort    sortKey
	help    bool
	version bool
}

// usageError is a bad command line: exit code 2, one line on stderr.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// watchFlag is --watch with an optional interval: a boolean flag (so that a
// bare --watch parses) whose value may also be a duration. A bad interval
// is kept in err, since package flag rewords what Set returns.
type watchFlag struct {
	d   *time.Duration
	err *error
}

func (w watchFlag) IsBoolFlag() bool { return true }

func (w watchFlag) String() string {
	if w.d == nil || *w.d == 0 {
		return ""
	}
	return w.d.String()
}

func (w watchFlag) Set(s string) error {
	switch s {
	case "true":
		*w.d = defaultInterval
		return nil
	case "false":
		*w.d = 0
		return nil
	}
	d, err := parseInterval(s)
	if err != nil {
		*w.err = err
		return err
	}
	*w.d = d
	return nil
}

// parseInterval accepts a Go duration ("500ms", "2s") or a number of
// seconds ("2", "0.5"), as watch(1) and netstat -c users type it.
func parseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != f { // NaN
			return 0, usagef("bad --watch interval %q: want a duration such as 2s or 500ms, or a number of seconds", s)
		}
		if f > float64(24*time.Hour/time.Second) {
			return 0, usagef("bad --watch interval %q: at most 24h", s)
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d < minInterval || d > 24*time.Hour {
		return 0, usagef("bad --watch interval %q: must be between %v and 24h", s, minInterval)
	}
	return d, nil
}

// shortBools are the one-letter boolean flags that may be combined, as in
// "ss -tlnp".
const shortBools = "al46nrtps"

// newFlagSet declares every flag into o. Raw values that need checking
// land in raw.
func newFlagSet(o *options, raw *rawFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("tcptable", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	boolVar := func(p *bool, usage string, names ...string) {
		for _, n := range names {
			fs.BoolVar(p, n, false, usage)
		}
	}
	boolVar(&raw.all, "every endpoint (the default)", "a", "all")
	boolVar(&raw.listen, "listeners only", "l", "listening")
	boolVar(&raw.v4, "IPv4 only", "4", "ipv4")
	boolVar(&raw.v6, "IPv6 only", "6", "ipv6")
	boolVar(&raw.numeric, "numeric addresses (the default)", "n", "numeric")
	boolVar(&o.resolve, "resolve addresses to host names", "r", "resolve")
	boolVar(&raw.tcp, "TCP (always; accepted for ss habits)", "t", "tcp")
	boolVar(&raw.processes, "show owners (always; accepted for ss habits)", "p", "processes")
	boolVar(&o.summary, "counts by state", "s", "summary")
	boolVar(&raw.json, "one JSON array", "json")
	boolVar(&raw.ndjson, "one JSON object a line", "ndjson")
	boolVar(&raw.csv, "CSV with a header", "csv")
	boolVar(&o.help, "this help", "h", "help")
	boolVar(&o.version, "version", "V", "version")
	fs.StringVar(&raw.state, "state", "", "states, comma-separated")
	fs.StringVar(&raw.port, "port", "", "local or remote port")
	fs.StringVar(&raw.pid, "pid", "", "owning process ID")
	fs.StringVar(&o.query.Process, "process", "", "owning process name")
	fs.StringVar(&raw.sort, "sort", "", "sort column")
	fs.Var(watchFlag{&o.watch, &raw.watchErr}, "watch", "print changes every INTERVAL")
	fs.BoolVar(&o.poll, "poll", false, "--watch polls instead of using kernel events")
	return fs
}

// rawFlags holds flag values that parse checks and turns into options.
type rawFlags struct {
	all, listen, v4, v6, numeric, tcp, processes bool
	json, ndjson, csv                            bool
	state, port, pid, sort                       string
	watchErr                                     error
}

// normalizeArgs rewrites ss/netstat habits into what package flag parses:
// combined short flags ("-ltn" becomes "-l -t -n") and a --watch interval
// given as a separate argument ("--watch 2s" becomes "--watch=2s"; see
// isInterval).
func normalizeArgs(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		name := strings.TrimLeft(a, "-")
		switch {
		case (a == "-watch" || a == "--watch") && i+1 < len(args) && isInterval(fs, args[i+1]):
			out = append(out, a+"="+args[i+1])
			i++
			continue
		case len(a) > 2 && a[0] == '-' && a[1] != '-' && fs.Lookup(name) == nil && onlyShortBools(name):
			for _, r := range name {
				out = append(out, "-"+string(r))
			}
			continue
		}
		if fs.Lookup(name) != nil && !isBool(fs, name) && !strings.Contains(a, "=") && i+1 < len(args) {
			out = append(out, a, args[i+1]) // a value flag: its value is never rewritten
			i++
			continue
		}
		out = append(out, a)
	}
	return out
}

// isInterval reports whether arg, following --watch, is its interval: any
// argument that is not a flag, and a negative number ("-1s", so that it is
// reported as a bad interval) unless it spells flags ("-4", "-l").
func isInterval(fs *flag.FlagSet, arg string) bool {
	name, dashed := strings.CutPrefix(arg, "-")
	if !dashed {
		return true
	}
	return name != "" && name[0] >= '0' && name[0] <= '9' && fs.Lookup(name) == nil && !onlyShortBools(name)
}

// onlyShortBools reports whether every letter of s is a combinable
// one-letter flag.
func onlyShortBools(s string) bool {
	return s != "" && strings.Trim(s, shortBools) == ""
}

// isBool reports whether the defined flag name takes no value.
func isBool(fs *flag.FlagSet, name string) bool {
	b, ok := fs.Lookup(name).Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// parseArgs parses the command line (without the program name).
func parseArgs(args []string) (*options, error) {
	o := &options{}
	var raw rawFlags
	fs := newFlagSet(o, &raw)
	if err := fs.Parse(normalizeArgs(fs, args)); err != nil {
		if raw.watchErr != nil {
			return nil, raw.watchErr
		}
		return nil, flagError(err, args)
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q (tcptable takes flags only)", fs.Arg(0))
	}
	if o.help || o.version {
		return o, nil
	}
	if err := raw.apply(o); err != nil {
		return nil, err
	}
	return o, nil
}

// flagError turns package flag's messages into the command's own wording,
// naming flags as the user most likely typed them ("--port", "-l").
func flagError(err error, args []string) error {
	dashes := func(name string) string { return asTyped(name, args) }
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		return usagef("unknown flag %s", dashes(name))
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return usagef("flag %s needs a value", dashes(name))
	}
	if rest, ok := strings.CutPrefix(msg, "invalid boolean value "); ok {
		// `"x" for -json: parse error`
		if value, name, ok := strings.Cut(rest, " for "); ok {
			name, _, _ = strings.Cut(name, ":")
			return usagef("flag %s takes no value (got %s)", dashes(name), value)
		}
	}
	return usagef("%s", msg)
}

// asTyped returns flag name (as package flag reports it, "-port") the way
// it appears in args ("--port", "-lx"), or in GNU style if it does not.
func asTyped(name string, args []string) string {
	name = strings.TrimLeft(name, "-")
	for _, a := range args {
		if a == "--" {
			break
		}
		if flagPart, _, _ := strings.Cut(a, "="); strings.TrimLeft(flagPart, "-") == name && strings.HasPrefix(flagPart, "-") {
			return flagPart
		}
	}
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// apply checks the raw values and sets the query, format and sort order.
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
	if r.state != "" {
		for s := range strings.SplitSeq(r.state, ",") {
			st, err := tcptable.ParseState(s)
			if err != nil {
				return usagef("bad --state %q: not a TCP state (try LISTEN, ESTABLISHED, TIME-WAIT, SYN-RECV, ...)", s)
			}
			q.States = append(q.States, st)
		}
	}
	if r.port != "" {
		n, err := strconv.ParseUint(r.port, 10, 32)
		if err != nil || n < 1 || n > 65535 {
			return usagef("bad --port %q: want a number in 1..65535", r.port)
		}
		q.Port = uint16(n)
	}
	if r.pid != "" {
		n, err := strconv.ParseUint(r.pid, 10, 32)
		if err != nil || n == 0 {
			return usagef("bad --pid %q: want a process ID (a positive number)", r.pid)
		}
		q.PID = uint32(n)
	}
	if r.sort != "" {
		k, err := parseSortKey(r.sort)
		if err != nil {
			return err
		}
		o.sort = k
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
	case o.poll && o.watch == 0:
		return usagef("--poll says how --watch follows changes: add --watch")
	}
	return nil
}
