//go:build windows

package windows

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/tcptable/tcptable"
)

// runWineHelper runs mode and returns the exit status.
func runWineHelper(mode string) int {
	p, err := New()
	if err == nil {
		var out any
		switch mode {
		case "dump":
			out, err = wineHelperDump(p)
		case "churn":
			out, err = wineHelperChurn(p)
		default:
			err = fmt.Errorf("unknown %s %q", envWineHelper, mode)
		}
		if err == nil {
			err = json.NewEncoder(os.Stdout).Encode(out)
		}
		_ = p.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wine helper:", err)
		return 1
	}
	return 0
}

func wineHelperDump(p *Provider) (wineDump, error) {
	var d wineDump
	rows, err := p.Table(context.Background(), tcptable.Query{Owners: tcptable.OwnerPIDs})
	if err != nil {
		return d, err
	}
	d.Rows = rows
	if _, err := p.e.read(1, tcptable.IPv6, false); err != nil {
		return d, err
	}
	b := p.e.bufs[1]
	for i := range int(binary.LittleEndian.Uint32(b)) {
		raw := b[tableHeaderSize+i*row6Size:][:row6Size]
		local := netip.AddrFrom16([16]byte(raw[row6LocalAddr:]))
		if !local.IsLinkLocalUnicast() {
			continue
		}
		remote := netip.AddrFrom16([16]byte(raw[row6RemoteAddr:]))
		d.Scopes = append(d.Scopes, wineScope{
			Local:       netip.AddrPortFrom(local, decodePort(raw[row6LocalPort:])),
			Remote:      netip.AddrPortFrom(remote, decodePort(raw[row6RemotePort:])),
			LocalScope:  binary.LittleEndian.Uint32(raw[row6LocalScope:]),
			RemoteScope: binary.LittleEndian.Uint32(raw[row6RemoteScope:]),
		})
	}
	return d, nil
}

// wineHelperChurn polls while the Linux side churns connections. A poll
// reads each family's table as Table does (Provider.family) and counts the
// rows the provider dropped as duplicates (the raw rows beyond those kept);
// the answer must hold every Key once.
func wineHelperChurn(p *Provider) (wineChurn, error) {
	var st wineChurn
	polls, err := strconv.Atoi(envOr(envWinePolls, "400"))
	if err != nil {
		return st, err
	}
	limit, err := time.ParseDuration(envOr(envWineFor, "2m"))
	if err != nil {
		return st, err
	}
	enough, err := strconv.Atoi(envOr(envWineDups, "0"))
	if err != nil {
		return st, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	seen := map[tcptable.Key]bool{}
	q := tcptable.Query{Owners: tcptable.OwnerNone}
	for st.Polls < polls && ctx.Err() == nil && (enough == 0 || st.RawDupPolls < enough) {
		var rows []tcptable.Connection
		dups := 0
		for i, fam := range [...]tcptable.Family{tcptable.IPv4, tcptable.IPv6} {
			n := len(rows)
			if rows, err = p.e.family(ctx, q, i, fam, rows); err != nil {
				if ctx.Err() != nil {
					return st, nil // the time is up: this poll does not count
				}
				return st, err
			}
			dups += len(p.e.scratch) - (len(rows) - n) // q selects every row
		}
		st.Polls++
		if dups > 0 {
			st.RawDupPolls++
			st.RawDups += dups
		}
		st.MaxRows = max(st.MaxRows, len(rows))
		clear(seen)
		for _, c := range rows {
			k := c.Key()
			if seen[k] {
				if st.AnswerDupPolls == 0 {
					st.FirstAnswerDup = k.String()
				}
				st.AnswerDupPolls++
				break
			}
			seen[k] = true
		}
	}
	return st, nil
}
