package owners

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/tcptable/tcptable/providers/linux/internal/bytesconv"
)

// errProcFile is wrapped by every error about a malformed /proc/PID file.
var errProcFile = errors.New("malformed /proc file")

// parseInodeLink decodes the target of a /proc/PID/fd/N or
// /proc/PID/ns/net link of the form prefix + "[" + decimal + "]", such as
// "socket:[12345]" or "net:[4026531992]". ok is false for anything else
// (a file, a pipe, another kind of namespace).
func parseInodeLink(link []byte, prefix string) (inode uint64, ok bool) {
	if len(link) < len(prefix)+3 || string(link[:len(prefix)]) != prefix ||
		link[len(prefix)] != '[' || link[len(link)-1] != ']' {
		return 0, false
	}
	return bytesconv.ParseUint(link[len(prefix)+1:len(link)-1], 10, 1<<64-1)
}

// parsePID decodes a /proc directory entry name that is a process ID.
func parsePID(name []byte) (uint32, bool) {
	if len(name) == 0 || name[0] == '0' {
		return 0, false
	}
	v, ok := bytesconv.ParseUint(name, 10, 1<<32-1)
	return uint32(v), ok
}

// procStat is what the resolver reads from /proc/PID/stat (proc(5)).
type procStat struct {
	comm  []byte // field 2, without its parentheses (aliases the input)
	ppid  uint32 // field 4: the parent's PID
	start uint64 // field 22: start time in clock ticks since boot
	// Fields 26 (startcode) and 28 (startstack): where the program's code
	// and stack begin. A new program (execve) gets a new address space and,
	// with address space randomization, new values; a fork keeps them.
	// The kernel shows 0 (or 1) to a reader that may not ptrace the
	// process, and older kernels or copies may stop before them: 0.
	code, stack uint64
}

// The 1-based fields of /proc/PID/stat that parseStat reads.
const (
	statPPIDField  = 4
	statStartField = 22
	statCodeField  = 26
	statStackField = 28
)

// parseStat decodes the contents of /proc/PID/stat: "PID (COMM) STATE PPID
// ... STARTTIME ...". COMM may hold spaces and parentheses, so fields are
// counted after the last ')'. Fields up to the start time must be there.
func parseStat(b []byte) (procStat, error) {
	var st procStat
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return st, fmt.Errorf("%w: stat has no (comm): %q", errProcFile, truncate(b))
	}
	st.comm = b[open+1 : end]
	rest := b[end+1:]
	// After ')' come field 3 (state) onwards.
	for field := 3; field <= statStackField; field++ {
		rest = bytes.TrimLeft(rest, " ")
		sp := bytes.IndexAny(rest, " \n")
		if sp < 0 {
			sp = len(rest)
		}
		if sp == 0 {
			if field <= statStartField {
				return st, fmt.Errorf("%w: stat has fewer than %d fields: %q", errProcFile, statStartField, truncate(b))
			}
			return st, nil
		}
		var v uint64
		ok := true
		switch field {
		case statPPIDField, statStartField, statCodeField, statStackField:
			v, ok = bytesconv.ParseUint(rest[:sp], 10, 1<<64-1)
		}
		if !ok {
			return st, fmt.Errorf("%w: stat field %d %q: %q", errProcFile, field, rest[:sp], truncate(b))
		}
		switch field {
		case statPPIDField:
			if v > 1<<32-1 {
				return st, fmt.Errorf("%w: stat ppid %d: %q", errProcFile, v, truncate(b))
			}
			st.ppid = uint32(v)
		case statStartField:
			st.start = v
		case statCodeField:
			st.code = v
		case statStackField:
			st.stack = v
		}
		rest = rest[sp:]
	}
	return st, nil
}

// commMax is the longest process name the kernel keeps (TASK_COMM_LEN - 1);
// a longer one is cut to it.
const commMax = 15

// fullName returns the whole name of a process whose name comm (from
// /proc/PID/comm) may have been cut to commMax bytes, as psutil finds it:
// the base name of its executable exe (a /proc/PID/exe link, whose
// " (deleted)" suffix is dropped), or else of argv[0] (the first
// NUL-terminated string of a /proc/PID/cmdline), when that base name is
// longer than comm and starts with it. The kernel names a process after
// the base name of the path it was started with, so this holds unless the
// process renamed itself. ok is false, and name is comm, when neither
// does.
func fullName(comm, exe string, cmdline []byte) (name string, ok bool) {
	if exe != "" {
		exe = strings.TrimSuffix(exe, " (deleted)")
		if base := exe[strings.LastIndexByte(exe, '/')+1:]; len(base) > len(comm) && strings.HasPrefix(base, comm) {
			return base, true
		}
	}
	if i := bytes.IndexByte(cmdline, 0); i >= 0 {
		cmdline = cmdline[:i]
	}
	base := cmdline[bytes.LastIndexByte(cmdline, '/')+1:]
	if len(base) > len(comm) && bytes.HasPrefix(base, []byte(comm)) {
		return string(base), true
	}
	return comm, false
}

// parseComm returns the process name from /proc/PID/comm (one line).
func parseComm(b []byte) string {
	return string(bytes.TrimRight(b, "\n"))
}

// truncate shortens b for an error message.
func truncate(b []byte) []byte {
	const max = 256
	if len(b) > max {
		return b[:max]
	}
	return b
}

// fdInfo is what the resolver reads from /proc/PID/fdinfo/N.
type fdInfo struct {
	flags  uint64 // the open flags, with O_CLOEXEC for a close-on-exec descriptor
	ino    uint64 // the file's inode (Linux 5.14+)
	hasIno bool
}

// parseFDInfo decodes /proc/PID/fdinfo/N: "key:\tvalue" lines, of which it
// reads "flags" (octal, required) and "ino" (decimal, if present).
func parseFDInfo(b []byte) (fdInfo, error) {
	var fi fdInfo
	hasFlags := false
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(bytes.TrimRight(line, "\n"), []byte(":"))
		if !ok {
			continue
		}
		val = bytes.TrimLeft(val, " \t")
		switch string(key) {
		case "flags":
			v, ok := bytesconv.ParseUint(val, 8, 1<<64-1)
			if !ok {
				return fi, fmt.Errorf("%w: fdinfo flags %q", errProcFile, truncate(val))
			}
			fi.flags, hasFlags = v, true
		case "ino":
			v, ok := bytesconv.ParseUint(val, 10, 1<<64-1)
			if !ok {
				return fi, fmt.Errorf("%w: fdinfo ino %q", errProcFile, truncate(val))
			}
			fi.ino, fi.hasIno = v, true
		}
	}
	if !hasFlags {
		return fi, fmt.Errorf("%w: fdinfo without flags: %q", errProcFile, truncate(b))
	}
	return fi, nil
}
