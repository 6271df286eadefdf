package windows

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/tcptable/tcptable"
)

// killOS ends connections: SetTcpEntry on Windows, fakes in tests. Its
// error wraps tcptable.ErrPermission for ERROR_ACCESS_DENIED and
// tcptable.ErrNotFound for ERROR_NOT_FOUND.
type killOS interface {
	// setTCPEntry calls SetTcpEntry with mib, a MIB_TCPROW.
	setTCPEntry(mib []byte) error
}

// mibTCPStateDeleteTCB is MIB_TCP_STATE_DELETE_TCB, the only state
// SetTcpEntry accepts.
const mibTCPStateDeleteTCB = 12

// Verification of a kill: the table is read again up to killChecks times,
// killPause apart, until the row is gone.
const (
	killChecks = 3
	killPause  = 20 * time.Millisecond
)

// kill ends the IPv4 connection c identifies (by its Key) with SetTcpEntry
// and MIB_TCP_STATE_DELETE_TCB, then reads the table again to verify it.
func (e *engine) kill(ctx context.Context, os killOS, c tcptable.Connection) error {
	what := c.String()
	if c.Family() != tcptable.IPv4 {
		return fmt.Errorf("%s: %w: Windows can end only IPv4 connections from outside their process (SetTcpEntry has no IPv6 counterpart)",
			what, tcptable.ErrNotSupported)
	}
	k := c.Key()
	j, err := e.find(k)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if j < 0 {
		return fmt.Errorf("%s: %w: no such row in the IPv4 table", what, tcptable.ErrNotFound)
	}
	if st := e.scratch[j].State; st == tcptable.StateListen || e.scratch[j].Remote.Port() == 0 {
		return fmt.Errorf("%s: %w: SetTcpEntry ends connections, not %v sockets (close it in its process)",
			what, tcptable.ErrNotSupported, st)
	}
	var mib mibBuf
	row := mibRow(&mib, e.rawRow(0, row4Size, j), false)
	binary.LittleEndian.PutUint32(row, mibTCPStateDeleteTCB)
	if err := os.setTCPEntry(row); err != nil {
		switch {
		case errors.Is(err, tcptable.ErrPermission):
			return fmt.Errorf("%s: SetTcpEntry(MIB_TCP_STATE_DELETE_TCB) needs Administrator (run elevated): %w", what, err)
		case errors.Is(err, tcptable.ErrNotFound):
			return fmt.Errorf("%s: the connection ended before SetTcpEntry could end it: %w", what, err)
		}
		return fmt.Errorf("%s: SetTcpEntry(MIB_TCP_STATE_DELETE_TCB): %w", what, err)
	}
	for i := range killChecks {
		if i > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: verifying: %w", what, ctx.Err())
			case <-time.After(killPause):
			}
		}
		if j, err = e.find(k); err != nil {
			return fmt.Errorf("%s: verifying: %w", what, err)
		}
		if j < 0 {
			return nil
		}
	}
	err = fmt.Errorf("%s: SetTcpEntry(MIB_TCP_STATE_DELETE_TCB) reported success but the row is still in the table (%v)",
		what, e.scratch[j].State)
	if e.wine {
		err = fmt.Errorf("%w: %w (Wine's SetTcpEntry is a stub that does nothing)", err, tcptable.ErrNotSupported)
	}
	return err
}

// find reads the IPv4 table and returns the index of the row with Key k in
// e.scratch (the last such row, as dedupe keeps), or -1.
func (e *engine) find(k tcptable.Key) (int, error) {
	rows, err := e.readRaw(0, tcptable.IPv4, false)
	if err != nil {
		return -1, err
	}
	j := -1
	for i := range rows {
		if rows[i].Key() == k {
			j = i
		}
	}
	return j, nil
}
