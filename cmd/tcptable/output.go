package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tcptable/tcptable"
)

// display renders rows for people: the aligned table and --watch lines.
// Every text the OS or the network hands over passes through printable.
type display struct {
	names    map[netip.Addr]string // host names from -r; nil when numeric
	tz       *time.Location        // for the CREATED column
	noHeader bool                  // -H: no header line
	stats    bool                  // -i: the statistics columns
	netns    bool                  // --all-netns: the NETNS column
}

// addr is an endpoint as ss prints it: "127.0.0.1:8080", "[::1]:443",
// port 0 as "*", the host name instead of the address with -r.
func (d *display) addr(a netip.AddrPort) string {
	if !a.IsValid() {
		return "-"
	}
	port := "*"
	if a.Port() != 0 {
		port = strconv.Itoa(int(a.Port()))
	}
	if name := d.names[a.Addr()]; name != "" {
		return printable(name) + ":" + port
	}
	if a.Addr().Is6() {
		return "[" + printable(a.Addr().String()) + "]:" + port // the zone is an interface name
	}
	return a.Addr().String() + ":" + port
}

// pidCell is the PID cell: "1234", "1234,1240" when shared, "-" when unknown.
func pidCell(c *tcptable.Connection) string {
	if c.PID == 0 && len(c.OtherPIDs) == 0 {
		return "-"
	}
	return strings.ReplaceAll(joinUints(c.Owners()), " ", ",")
}

// processCell is the process name (escaped as printable says), or why
// there is none in brackets ("[kernel]", "[permission-denied]").
func processCell(c *tcptable.Connection) string {
	if c.Module.Name != "" {
		return printable(c.Module.Name)
	}
	why := c.ModuleStatus
	if c.PID == 0 {
		why = c.OwnerStatus
	}
	if why == tcptable.OwnerUnknown || why == tcptable.OwnerOK {
		return "-"
	}
	return "[" + why.String() + "]"
}

// writeTable prints rows as an aligned table with a header (unless -H).
// The CREATED column appears when some row has a creation time, CONTAINER
// when some row names one, NETNS (first) with --all-netns, the statistics
// columns with -i.
func (d *display) writeTable(w io.Writer, rows []tcptable.Connection) error {
	created := false
	for i := range rows {
		created = created || !rows[i].Created.IsZero()
	}
	containers := hasContainers(rows)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	header := "STATE\tLOCAL\tREMOTE\tPID\tPROCESS"
	if d.netns {
		header = "NETNS\t" + header
	}
	if created {
		header += "\tCREATED"
	}
	if containers {
		header += "\tCONTAINER"
	}
	if d.stats {
		header += "\t" + strings.Join(statsHeader, "\t")
	}
	if !d.noHeader {
		fmt.Fprintln(tw, header)
	}
	for i := range rows {
		c := &rows[i]
		line := c.State.String() + "\t" + d.addr(c.Local) + "\t" + d.addr(c.Remote) + "\t" + pidCell(c) + "\t" + processCell(c)
		if d.netns {
			line = netnsCell(c) + "\t" + line
		}
		if created {
			line += "\t" + d.created(c.Created)
		}
		if containers {
			line += "\t" + containerCell(c)
		}
		if d.stats {
			line += "\t" + strings.Join(statsCells(c), "\t")
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// created is the CREATED cell: local time to the second, "-" when unknown.
func (d *display) created(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(d.tz).Format(time.DateTime)
}

// writeJSON prints rows as one indented JSON array ("[]" when empty).
func writeJSON(w io.Writer, rows []tcptable.Connection) error {
	if rows == nil {
		rows = []tcptable.Connection{}
	}
	b, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// writeNDJSON prints one JSON value a line.
func writeNDJSON[T any](w io.Writer, values []T) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for i := range values {
		if err := enc.Encode(&values[i]); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeCSV prints a header of column keys (unless noHeader) and one record
// a row, every cell made safe by csvCell; the Stats members
// (stats_bytes_sent, ...) only withStats (-i).
func writeCSV(w io.Writer, rows []tcptable.Connection, noHeader, withStats bool) error {
	cols := csvColumns(withStats)
	cw := csv.NewWriter(w)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.key
	}
	if !noHeader {
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	for r := range rows {
		for i, c := range cols {
			rec[i] = csvCell(c.text(&rows[r]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
