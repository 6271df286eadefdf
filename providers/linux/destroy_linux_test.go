package linux

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// TestDestroyedAfterPoll: the kernel sends a destroy message from a work
// queue, so a poll may report a connection closed before its message
// arrives. The message must not report that end again (as opened and
// closed at once, a connection no poll saw), while a message for a
// connection no poll saw still is reported.
func TestDestroyedAfterPoll(t *testing.T) {
	p, err := New(WithoutBirthTimes())
	require.NoError(t, err)
	defer p.Close()
	cv := p.traceConverter()
	var look *diagConn
	defer func() {
		if look != nil {
			look.close()
		}
	}()
	lo := netip.MustParseAddr("127.0.0.1").As16()
	row := diagRow{Family: afInet, State: tcpClose, SPort: 1, DPort: 2, Cookie: 7}
	copy(row.Src[:4], lo[12:])
	copy(row.Dst[:4], lo[12:])
	c, ok := cv.plain(&row)
	require.True(t, ok)
	d := destroyed{row: row, at: time.Now().UTC()}

	var evs []tcptable.Event
	collect := func(e tcptable.Event) error { evs = append(evs, e); return nil }

	_, err = p.destroyedRow(tcptable.Query{}, nil, []tcptable.Connection{c}, &d, &cv, &look, collect)
	require.NoError(t, err)
	assert.Empty(t, evs, "an end the last poll reported is not reported again")

	_, err = p.destroyedRow(tcptable.Query{}, nil, nil, &d, &cv, &look, collect)
	require.NoError(t, err)
	kinds := make([]tcptable.EventKind, len(evs))
	for i, e := range evs {
		kinds[i] = e.Kind
	}
	assert.Equal(t, []tcptable.EventKind{tcptable.EventOpened, tcptable.EventClosed}, kinds,
		"a connection no poll saw is reported opened and closed at its end")
}
