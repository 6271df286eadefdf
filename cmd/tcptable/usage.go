package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// usageText is what --help prints.
const usageText = `Usage: tcptable [flags]
       tcptable serve [--listen ADDR]   Prometheus metrics (serve --help)

Prints this host's TCP endpoints - state, local and remote address, owning
PID and process, and creation time where the OS records it - like
"ss -tanp" or "netstat -ano", the same way on every OS.

Selection (conditions combine; the default is every endpoint):
  -a, --all               every endpoint (the default)
  -l, --listening         listeners only
  -4, --ipv4              IPv4 only
  -6, --ipv6              IPv6 only
      --state S[,S...]    only these states, in any usual spelling:
                          LISTEN, ESTABLISHED, ESTAB, TIME_WAIT, SYN-RECV, 5
      --port N            local or remote port N (1..65535)
      --pid N             owned by process N
      --process NAME      owned by a process named NAME (any case)

Output:
  -n, --numeric           numeric addresses (the default: no DNS unless -r)
  -r, --resolve           host names by reverse DNS (2s at most in all)
      --sort COLUMN       order rows by a column: state, local, remote, pid,
                          process, path, created, first_seen, uid, inode, ...
                          (-COLUMN reverses; the default is local, remote)
      --json              one JSON array
      --ndjson            one JSON object a line
      --csv               CSV with a header row (the JSON keys)
  -s, --summary           counts by state instead of rows (like ss -s)
      --watch [INTERVAL]  print changes as they happen until Ctrl-C: opened,
                          closed, state-changed, owner-changed; from kernel
                          events where the OS permits (Linux with BPF), so
                          that connections living a millisecond show, else
                          by polling every INTERVAL (1s by default; 500ms,
                          2s, or seconds: 2); stderr says which
      --poll              with --watch: poll even where kernel events work
  -h, --help              this help
  -V, --version           version and build information
  -t, -p                  accepted for ss habits (TCP and owners always shown)

Short flags combine: -lt4 is -l -t -4.

Examples:
  tcptable                            every TCP endpoint and its owner
  tcptable -l                         who is listening?
  tcptable --port 8080                everything on port 8080, either end
  tcptable --state established --process nginx
  tcptable -l4 --sort pid             IPv4 listeners by owning PID
  tcptable --sort=-created            newest first, where the OS records it
  tcptable --json | jq '.[] | select(.pid == 1234)'
  tcptable --csv > table.csv
  tcptable -s                         counts by state
  tcptable --watch 2s                 follow opens, closes and state changes
  tcptable --watch --ndjson -l        follow listeners as JSON lines

Exit status: 0 on success (and on Ctrl-C in --watch), 1 when the table cannot
be read, 2 for a bad command line. Without root (Administrator on Windows)
the owners of other users' sockets are hidden; one stderr line says how many.
`

// versionLine describes the build: module version, VCS revision when the
// binary was built from a checkout, Go version and platform.
func versionLine() string {
	version, rev := "(unknown)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Version
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && modified {
			rev += "+dirty"
		}
	}
	s := "tcptable " + version
	if rev != "" {
		s += " rev " + rev
	}
	return fmt.Sprintf("%s %s %s/%s", s, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
