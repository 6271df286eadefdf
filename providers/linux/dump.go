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

// families lists the kernel families q can match.
func families(q tcptable.Query) []uint8 {
	var f []uint8
	if q.MatchFamily(tcptable.IPv4) {
		f = append(f, afInet)
	}
	if q.MatchFamily(tcptable.IPv6) {
		f = append(f, afInet6)
	}
	return f
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
