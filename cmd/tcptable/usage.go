package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// usageIntro and usageOutro frame the flags in --help; the flags come from
// flagDefs.
const (
	usageIntro = `Usage: tcptable [flags]
       tcptable kill [selection flags] [--dry-run]   (see tcptable kill --help)
       tcptable serve [--listen ADDR]                (see tcptable serve --help)

Prints this host's TCP endpoints - state, local and remote address, owning
PID and process, and creation time where the OS records it - like
"ss -tanp" or "netstat -ano", the same way on every OS.
`
	usageOutro = `
Short flags combine: -lt4 is -l -t -4, -ti is -t -i. A flag that takes one
value takes it once; an empty value is an error. UDP (-u) is not supported.

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
  tcptable -ti --state established    connections with bytes, RTT and cwnd
  tcptable --top                      who is using the network right now?
  tcptable --top 5s --ndjson          the same as a JSON line every 5s
  tcptable --all-netns -l             listeners of every namespace and container
  tcptable --netns blue --port 80     one namespace made with ip netns add blue

Exit status: 0 on success (and on Ctrl-C in --watch or --top), 1 when the table
cannot be read, 2 for a bad command line (--netns and --all-netns on an OS
without network namespaces too). Without root (Administrator on Windows) the
owners of other users' sockets are hidden; one stderr line says how many.
`
)

// usageHelpColumn is where the flags' help text starts in --help.
const usageHelpColumn = 26

// usageText returns what --help prints: the listing's flags of flagDefs
// by section.
func usageText() string { return usageIntro + flagsHelp(cmdList) + usageOutro }

// flagsHelp returns the --help entries of the flags of flagDefs that cmd's
// help lists (helpedBy), by section.
func flagsHelp(cmd cmdSet) string {
	var b strings.Builder
	group := ""
	for i := range flagDefs {
		d := &flagDefs[i]
		if !d.helpedBy(cmd) {
			continue
		}
		if d.group != group {
			group = d.group
			b.WriteString("\n" + group + ":\n")
		}
		b.WriteString(usageLine(d))
	}
	return b.String()
}

// usageLine is one flag's entry in --help, e.g.
// "  -l, --listening         listeners only".
func usageLine(d *flagDef) string {
	short, long := "    ", ""
	for _, n := range d.names {
		if len(n) == 1 {
			short = "-" + n + ", "
		} else {
			long = "--" + n
		}
	}
	names := "  " + short + long
	if long == "" {
		names = strings.TrimSuffix(names, ", ")
	}
	if d.arg != "" {
		names += " " + d.arg
	}
	pad := strings.Repeat(" ", usageHelpColumn)
	if len(names) < usageHelpColumn {
		names += pad[len(names):]
	} else {
		names += "\n" + pad
	}
	return names + strings.ReplaceAll(d.help, "\n", "\n"+pad) + "\n"
}

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
