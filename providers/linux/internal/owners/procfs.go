package owners

import (
	"bytes"
	"errors"
	"fmt"

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

// statStartField is the 1-based field of /proc/PID/stat that holds the
// process start time in clock ticks since boot (proc(5): starttime).
const statStartField = 22

// parseStatStart extracts the start time from the contents of
// /proc/PID/stat: "PID (COMM) STATE PPID ... STARTTIME ...". COMM may hold
// spaces and parentheses, so fields are counted after the last ')'.
func parseStatStart(b []byte) (uint64, error) {
	end := bytes.LastIndexByte(b, ')')
	if end < 0 {
		return 0, fmt.Errorf("%w: stat has no ')': %q", errProcFile, truncate(b))
	}
	rest := b[end+1:]
	// After ')' come field 3 (state) onwards.
	for field := 3; ; field++ {
		rest = bytes.TrimLeft(rest, " ")
		sp := bytes.IndexByte(rest, ' ')
		if sp < 0 {
			sp = len(rest)
		}
		if field == statStartField {
			v, ok := bytesconv.ParseUint(bytes.TrimRight(rest[:sp], "\n"), 10, 1<<64-1)
			if !ok {
				return 0, fmt.Errorf("%w: stat starttime %q: %q", errProcFile, rest[:sp], truncate(b))
			}
			return v, nil
		}
		if sp == len(rest) {
			return 0, fmt.Errorf("%w: stat has fewer than %d fields: %q", errProcFile, statStartField, truncate(b))
		}
		rest = rest[sp:]
	}
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
