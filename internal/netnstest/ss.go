package netnstest

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tcptable/tcptable"
)

// SSRow is one line of `ss -tanpH` (or `ss -tanH`) output.
type SSRow struct {
	State         tcptable.State
	Local, Remote netip.AddrPort
	// PIDs lists the owning processes from the users:(...) column, sorted
	// and without duplicates (a process holding the socket on two
	// descriptors appears once).
	PIDs []uint32
}

// ParseSS parses the output of `ss -tan[p]H`. Wildcard addresses print as
// "*" for dual-stack AF_INET6 sockets and are returned as "::"; "*" ports
// are 0; a device suffix ("%lo") is dropped from IPv4 and kept as the zone
// of an IPv6 address.
func ParseSS(out []byte) ([]SSRow, error) {
	var rows []SSRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("netnstest: ss line with %d fields: %q", len(f), line)
		}
		st, err := tcptable.ParseState(f[0])
		if err != nil {
			return nil, fmt.Errorf("netnstest: ss line %q: %w", line, err)
		}
		r := SSRow{State: st}
		if r.Local, err = parseSSAddr(f[3]); err != nil {
			return nil, fmt.Errorf("netnstest: ss line %q: %w", line, err)
		}
		if r.Remote, err = parseSSAddr(f[4]); err != nil {
			return nil, fmt.Errorf("netnstest: ss line %q: %w", line, err)
		}
		if len(f) > 5 {
			r.PIDs = parseSSUsers(strings.Join(f[5:], " "))
		}
		rows = append(rows, r)
	}
	return rows, sc.Err()
}

// parseSSAddr parses "127.0.0.1:80", "[::1]:80", "*:80", "0.0.0.0:*",
// "[fe80::1]%eth0:22", "127.0.0.1%lo:80".
func parseSSAddr(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("address %q has no port", s)
	}
	host, port := s[:i], s[i+1:]
	var p uint64
	if port != "*" {
		var err error
		if p, err = strconv.ParseUint(port, 10, 16); err != nil {
			return netip.AddrPort{}, fmt.Errorf("port in %q: %w", s, err)
		}
	}
	zone := ""
	if j := strings.LastIndexByte(host, '%'); j >= 0 && !strings.Contains(host[j:], "]") {
		host, zone = host[:j], host[j+1:]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "*" {
		host = "::"
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address %q: %w", s, err)
	}
	if zone != "" && a.Is6() && !a.Is4In6() && a.IsLinkLocalUnicast() {
		a = a.WithZone(zone)
	}
	return netip.AddrPortFrom(a, uint16(p)), nil
}

// parseSSUsers extracts the pid=N values of a users:((...)) column.
func parseSSUsers(s string) []uint32 {
	var pids []uint32
	for {
		i := strings.Index(s, "pid=")
		if i < 0 {
			break
		}
		s = s[i+4:]
		j := 0
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if v, err := strconv.ParseUint(s[:j], 10, 32); err == nil {
			pids = append(pids, uint32(v))
		}
		s = s[j:]
	}
	slices.Sort(pids)
	return slices.Compact(pids)
}

// SSInfoRow is one socket of `ss -tinH` output: its line and the
// information line ss prints under it (-i), as key:value pairs
// ("bytes_sent" -> "5000", "rtt" -> "0.009/0.005") and the few values ss
// prints after a space ("pacing_rate" -> "681062375640bps").
type SSInfoRow struct {
	SSRow
	Info map[string]string
}

// ssSpaced reports whether ss prints the -i value name as "name value"
// (not "name:value").
func ssSpaced(name string) bool {
	switch name {
	case "send", "pacing_rate", "delivery_rate":
		return true
	}
	return false
}

// ParseSSInfo parses the output of `ss -tinH`: a line per socket as
// ParseSS reads it, followed, for sockets with tcp_info, by a line that
// starts with white space. Counters ss leaves out are zero to it (it
// prints bytes_sent and the like only when they are not).
func ParseSSInfo(out []byte) ([]SSInfoRow, error) {
	var rows []SSInfoRow
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if len(rows) == 0 {
				return nil, fmt.Errorf("netnstest: ss information line before any socket: %q", line)
			}
			parseSSInfoLine(line, rows[len(rows)-1].Info)
			continue
		}
		r, err := ParseSS([]byte(line))
		if err != nil {
			return nil, err
		}
		rows = append(rows, SSInfoRow{SSRow: r[0], Info: map[string]string{}})
	}
	return rows, sc.Err()
}

// parseSSInfoLine adds the values of one -i line to info.
func parseSSInfoLine(line string, info map[string]string) {
	f := strings.Fields(line)
	for i := 0; i < len(f); i++ {
		if ssSpaced(f[i]) && i+1 < len(f) {
			info[f[i]] = f[i+1]
			i++
			continue
		}
		if k, v, ok := strings.Cut(f[i], ":"); ok {
			info[k] = v
		}
	}
}
