package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/tcptable/tcptable"
)

// summary counts rows by state and family, like ss -s.
type summary struct {
	Total  int            `json:"total"`
	IPv4   int            `json:"ipv4"`
	IPv6   int            `json:"ipv6"`
	States map[string]int `json:"states"` // every state name, zeros included
	counts [tcptable.StateDeleteTCB + 1]int
	other  int // rows with an out-of-range state
}

func summarize(rows []tcptable.Connection) *summary {
	s := &summary{Total: len(rows), States: map[string]int{}}
	for i := range rows {
		c := &rows[i]
		if c.Family() == tcptable.IPv4 {
			s.IPv4++
		} else {
			s.IPv6++
		}
		if c.State.Valid() {
			s.counts[c.State]++
		} else {
			s.other++
		}
	}
	for st := tcptable.StateClosed; st <= tcptable.StateDeleteTCB; st++ {
		s.States[st.String()] = s.counts[st]
	}
	if s.other > 0 {
		s.States["OTHER"] = s.other
	}
	return s
}

// nonZero calls f for each state with rows, in MIB order.
func (s *summary) nonZero(f func(name string, n int)) {
	for st := tcptable.StateClosed; st <= tcptable.StateDeleteTCB; st++ {
		if s.counts[st] > 0 {
			f(st.String(), s.counts[st])
		}
	}
	if s.other > 0 {
		f("OTHER", s.other)
	}
}

// line is the one-line form --watch --summary prints after each change.
func (s *summary) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "total %d (IPv4 %d, IPv6 %d)", s.Total, s.IPv4, s.IPv6)
	s.nonZero(func(name string, n int) { fmt.Fprintf(&b, ", %s %d", name, n) })
	return b.String()
}

// write prints the summary in format f; noHeader leaves out the CSV
// header.
func (s *summary) write(w io.Writer, f format, noHeader bool) error {
	switch f {
	case formatJSON, formatNDJSON:
		b, err := json.Marshal(s)
		if err != nil {
			return err
		}
		_, err = w.Write(append(b, '\n'))
		return err
	case formatCSV:
		cw := csv.NewWriter(w)
		if !noHeader {
			_ = cw.Write([]string{"state", "count"})
		}
		s.nonZero(func(name string, n int) { _ = cw.Write([]string{name, strconv.Itoa(n)}) })
		_ = cw.Write([]string{"TOTAL", strconv.Itoa(s.Total)})
		cw.Flush()
		return cw.Error()
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "Total: %d (IPv4 %d, IPv6 %d)\n", s.Total, s.IPv4, s.IPv6)
	s.nonZero(func(name string, n int) { fmt.Fprintf(tw, "%s\t%d\n", name, n) })
	return tw.Flush()
}
