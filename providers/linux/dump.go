package linux

import (
	"context"
	"errors"
	"fmt"

	"github.com/tcptable/tcptable"
)

// dumper dumps the sockets of one family in the states of a bitmask, with
// the idiag_ext extensions ext, calling fn for each, and reports whether
// the kernel flagged the dump as interrupted by a concurrent change.
// diagConn.dump is the real one.
type dumper func(ctx context.Context, family uint8, states uint32, ext uint8, fn func(*diagRow)) (interrupted bool, err error)

// families lists the kernel families whose rows q can match by their
// family alone: the tables to read where a row cannot say it is dual
// stack (/proc/net/tcp6 has no IPV6_V6ONLY).
func families(q tcptable.Query) []uint8 {
	return familiesBy(q.MatchFamily)
}

// diagFamilies lists the kernel families a sock_diag dump answering q
// reads: those of families, and for an IPv4 query that can select LISTEN
// or CLOSE also AF_INET6, whose dual-stack sockets (INET_DIAG_SKV6ONLY 0
// on ::) match it (Query.ReadFamily).
func diagFamilies(q tcptable.Query) []uint8 {
	return familiesBy(q.ReadFamily)
}

func familiesBy(read func(tcptable.Family) bool) []uint8 {
	var f []uint8
	if read(tcptable.IPv4) {
		f = append(f, afInet)
	}
	if read(tcptable.IPv6) {
		f = append(f, afInet6)
	}
	return f
}

// familyMask narrows the state bitmask mask of q for a dump of family
// fam: a family q reads only for its dual-stack sockets (diagFamilies)
// needs only the states such a socket can be in, LISTEN and CLOSE (which
// a bound socket dumps as BOUND_INACTIVE), so that an IPv4 query does not
// have the kernel send every IPv6 connection.
func familyMask(q tcptable.Query, mask uint32, fam uint8) uint32 {
	if fam == afInet6 && !q.MatchFamily(tcptable.IPv6) {
		return mask & (1<<tcpListen | 1<<tcpClose | 1<<tcpBoundInactive)
	}
	return mask
}

// dumpFamilies dumps each family with dump, where add appends accepted
// rows to *rows. A family whose dump is interrupted is restarted, its rows
// dropped, up to retries times; after that its last rows are kept and the
// error wraps tcptable.ErrInconsistent.
func dumpFamilies(ctx context.Context, fams []uint8, mask uint32, ext uint8, retries int, dump dumper,
	rows *[]tcptable.Connection, add func(*diagRow)) error {
	var inconsistent []string
	for _, fam := range fams {
		for attempt := 0; ; attempt++ {
			start := len(*rows)
			intr, err := dump(ctx, fam, mask, ext, add)
			if err != nil {
				return err
			}
			if !intr {
				break
			}
			if attempt >= retries {
				inconsistent = append(inconsistent, familyName(fam))
				break
			}
			*rows = (*rows)[:start]
		}
	}
	if inconsistent != nil {
		return fmt.Errorf("sock_diag %v dump interrupted %d times: %w",
			inconsistent, retries+1, tcptable.ErrInconsistent)
	}
	return nil
}

func familyName(f uint8) string {
	switch f {
	case afInet:
		return "AF_INET"
	case afUnspec:
		return "AF_INET+AF_INET6"
	}
	return "AF_INET6"
}

// firstHardError returns the first error that is not an inconsistency
// report (those come with usable rows).
func firstHardError(errs []error) error {
	for _, err := range errs {
		if err != nil && !errors.Is(err, tcptable.ErrInconsistent) {
			return err
		}
	}
	return nil
}

// joinParts returns the parts, laid out in regions of rows with the
// capacities caps, as one slice: in place when every part stayed in its
// region, in a new array otherwise. In place, the gap before a part is
// filled with that part's last rows rather than by shifting the whole part
// (rows come in no particular order), so at most the gaps' size is copied.
// The unused tail is cleared so it holds no references.
func joinParts(rows []tcptable.Connection, parts [][]tcptable.Connection, caps []int) []tcptable.Connection {
	inPlace := true
	for i, part := range parts {
		inPlace = inPlace && len(part) <= caps[i]
	}
	if !inPlace {
		n := 0
		for _, part := range parts {
			n += len(part)
		}
		out := make([]tcptable.Connection, 0, n)
		for _, part := range parts {
			out = append(out, part...)
		}
		return out
	}
	n, off := 0, 0
	for i, part := range parts {
		m := len(part)
		k := min(off-n, m)
		copy(rows[n:n+k], part[m-k:])
		n += m
		off += caps[i]
	}
	clear(rows[n:])
	return rows[:n]
}
