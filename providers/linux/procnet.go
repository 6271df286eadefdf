package linux

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/tcptable/tcptable/providers/linux/internal/bytesconv"
)

// errProcNet is wrapped by every error about malformed /proc/net/tcp text.
var errProcNet = errors.New("malformed /proc/net/tcp line")

// maxProcNetLine caps one line of /proc/net/tcp{,6}; the kernel pads every
// line to 150 (IPv4) or fewer than 180 (IPv6) bytes.
const maxProcNetLine = 512

// parseProcNet reads a /proc/net/tcp or /proc/net/tcp6 file from r and
// calls fn for each row. family is afInet or afInet6 and says how the
// addresses are written. Addresses are printed by the kernel as 32-bit words
// in host byte order; the pure decoder assumes the byte order of the machine
// it runs on, which is the kernel's. Errors quote the offending line.
func parseProcNet(r io.Reader, family uint8, fn func(*diagRow)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxProcNetLine)
	var row diagRow
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			first = false
			if bytes.Contains(line, []byte("local_address")) {
				continue
			}
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := parseProcNetLine(line, family, &row); err != nil {
			return err
		}
		fn(&row)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %w", errProcNet, err)
	}
	return nil
}

// parseProcNetLine decodes one data line:
//
//	sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
func parseProcNetLine(line []byte, family uint8, r *diagRow) error {
	var fields [10][]byte
	n := 0
	for rest := line; n < len(fields); n++ {
		rest = bytes.TrimLeft(rest, " ")
		if len(rest) == 0 {
			break
		}
		end := bytes.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		fields[n], rest = rest[:end], rest[end:]
	}
	if n < len(fields) {
		return fmt.Errorf("%w: %d fields, want at least %d: %q", errProcNet, n, len(fields), line)
	}
	*r = diagRow{Family: family}
	var err error
	if r.SPort, err = parseHexAddr(fields[1], r.Src[:], family); err != nil {
		return fmt.Errorf("%w: local address: %w: %q", errProcNet, err, line)
	}
	if r.DPort, err = parseHexAddr(fields[2], r.Dst[:], family); err != nil {
		return fmt.Errorf("%w: remote address: %w: %q", errProcNet, err, line)
	}
	st, ok := bytesconv.ParseUint(fields[3], 16, 0xff)
	if !ok {
		return fmt.Errorf("%w: state %q: %q", errProcNet, fields[3], line)
	}
	r.State = uint8(st)
	uid, ok := bytesconv.ParseUint(fields[7], 10, 0xffffffff)
	if !ok {
		return fmt.Errorf("%w: uid %q: %q", errProcNet, fields[7], line)
	}
	r.UID = uint32(uid)
	ino, ok := bytesconv.ParseUint(fields[9], 10, 0xffffffff)
	if !ok {
		return fmt.Errorf("%w: inode %q: %q", errProcNet, fields[9], line)
	}
	r.Inode = uint32(ino)
	return nil
}

// parseHexAddr decodes "0100007F:1F90" (IPv4) or 32 hex digits and a port
// (IPv6) into addr and returns the port.
func parseHexAddr(f []byte, addr []byte, family uint8) (uint16, error) {
	words := 1
	if family == afInet6 {
		words = 4
	}
	if len(f) != words*8+5 || f[words*8] != ':' {
		return 0, fmt.Errorf("address %q is not %d hex digits and a port", f, words*8)
	}
	for i := range words {
		w, ok := bytesconv.ParseUint(f[i*8:i*8+8], 16, 0xffffffff)
		if !ok {
			return 0, fmt.Errorf("address %q is not hexadecimal", f)
		}
		binary.NativeEndian.PutUint32(addr[i*4:], uint32(w))
	}
	p, ok := bytesconv.ParseUint(f[words*8+1:], 16, 0xffff)
	if !ok {
		return 0, fmt.Errorf("port in %q is not a 16-bit hexadecimal number", f)
	}
	return uint16(p), nil
}

// parseSockstat returns how many TCP sockets a /proc/net/sockstat or
// sockstat6 file counts: "inuse" plus "tw" of its "TCP:" or "TCP6:" line.
// The provider sizes its first answer with it; 0 if the line is missing.
func parseSockstat(b []byte) int {
	for line := range bytes.Lines(b) {
		f := bytes.Fields(line)
		if len(f) == 0 || (string(f[0]) != "TCP:" && string(f[0]) != "TCP6:") {
			continue
		}
		n := 0
		for i := 1; i+1 < len(f); i += 2 {
			if k := string(f[i]); k == "inuse" || k == "tw" {
				if v, ok := bytesconv.ParseUint(f[i+1], 10, 1<<31-1); ok {
					n += int(v)
				}
			}
		}
		return n
	}
	return 0
}
