package main

import (
	"flag"
	"fmt"
	"strings"
)

// usageError is a bad command line: exit code 2, one line on stderr.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// udpShort is ss's and netstat's one-letter UDP flag, which tcptable
// refuses with a reason rather than as an unknown flag.
const udpShort = "u"

// normalizeArgs rewrites ss/netstat habits into what package flag parses:
// combined short flags ("-ltn" becomes "-l -t -n") and the value of a flag
// whose value is optional given as a separate argument ("--watch 2s"
// becomes "--watch=2s"; see isOptionalValue). It refuses UDP (-u, alone
// or in a cluster such as -tulpn, and --udp) with a reason.
func normalizeArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...), nil
		}
		name := strings.TrimLeft(a, "-")
		if err := refuseUDP(fs, a, name); err != nil {
			return nil, err
		}
		switch {
		case isOptional(fs, name) && !strings.Contains(a, "=") && i+1 < len(args) && isOptionalValue(fs, args[i+1]):
			out = append(out, a+"="+args[i+1])
			i++
			continue
		case isCluster(fs, a, name) && onlyShortBools(name):
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
	return out, nil
}

// isCluster reports whether a is a single-dash argument that is not a flag
// name itself, and so may be several one-letter flags ("-ltn").
func isCluster(fs *flag.FlagSet, a, name string) bool {
	return len(a) > 2 && a[0] == '-' && a[1] != '-' && fs.Lookup(name) == nil
}

// refuseUDP returns the error for an argument that asks for UDP: "-u",
// "--udp", or a cluster of one-letter flags with a u in it.
func refuseUDP(fs *flag.FlagSet, a, name string) error {
	const why = "UDP is not supported: tcptable lists TCP endpoints only"
	switch {
	case a == "-u" || a == "--udp" || a == "-udp":
		return usagef("%s: %s", a, why)
	case isCluster(fs, a, name) && strings.Contains(name, udpShort) && onlyShortBools(strings.ReplaceAll(name, udpShort, "")):
		return usagef("-u in %s: %s (drop the u)", a, why)
	}
	return nil
}

// isOptional reports whether name is a defined flag whose value is
// optional (--watch).
func isOptional(fs *flag.FlagSet, name string) bool {
	f := fs.Lookup(name)
	if f == nil {
		return false
	}
	v, ok := f.Value.(*flagValue)
	return ok && v.def.kind == optionalFlag
}

// isOptionalValue reports whether arg, following a flag whose value is
// optional, is its value: any argument that is not a flag, and a negative
// number ("-1s", so that it is reported as a bad interval) unless it spells
// flags ("-4", "-l").
func isOptionalValue(fs *flag.FlagSet, arg string) bool {
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
