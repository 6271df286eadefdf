package mock_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
	"github.com/tcptable/tcptable/conformance"
	"github.com/tcptable/tcptable/providers/mock"
)

func TestStatsAnswers(t *testing.T) {
	p := mock.New(sample()...)
	conn := sample()[2]
	require.True(t, p.SetStats(conn.Key(), tcptable.Stats{BytesSent: 10, RTT: 5}))
	require.False(t, p.SetStats(tcptable.Key{Local: ap("1.2.3.4:5")}, tcptable.Stats{}), "no such row")

	rows, err := p.Table(context.Background(), tcptable.Query{})
	require.NoError(t, err)
	for _, c := range rows {
		assert.Nil(t, c.Stats, "not requested: %v", c)
		assert.Equal(t, tcptable.StatsNotRequested, c.StatsStatus)
	}

	rows, err = p.Table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	require.Len(t, rows, 4)
	require.NotNil(t, rows[2].Stats)
	assert.Equal(t, tcptable.Stats{BytesSent: 10, RTT: 5}, *rows[2].Stats)
	assert.Equal(t, tcptable.StatsOK, rows[2].StatsStatus)
	assert.Nil(t, rows[0].Stats)
	assert.Equal(t, tcptable.StatsNotAvailable, rows[0].StatsStatus, "a row without Stats or a reason is not available")

	rows[2].Stats.BytesSent = 99 // the answer is a copy
	require.True(t, p.AddTraffic(conn.Key(), 100_000, 10))
	st := p.Rows()[2].Stats
	assert.Equal(t, uint64(100_010), st.BytesSent)
	assert.Equal(t, uint64(10), st.BytesReceived)
	assert.Equal(t, uint64(2+1), st.SegmentsSent, "two full segments of payload and an acknowledgement")
	assert.Equal(t, uint64(1+1), st.SegmentsReceived)
	assert.Equal(t, uint64(100_000), st.BytesAcked)

	// A row given a reason keeps it; Partial stays Partial.
	p.Add(tcptable.Connection{State: tcptable.StateEstablished, Local: ap("10.0.0.5:1"), Remote: ap("10.0.0.6:2"),
		StatsStatus: tcptable.StatsPermissionDenied})
	require.True(t, p.Update(tcptable.Key{Local: ap("10.0.0.5:22"), Remote: ap("10.0.0.9:50123")}, func(c *tcptable.Connection) {
		c.StatsStatus = tcptable.StatsPartial
	}))
	require.True(t, p.SetStats(conn.Key(), tcptable.Stats{BytesSent: 1}))
	rows, err = p.Table(context.Background(), tcptable.Query{Stats: true, Port: 1})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, tcptable.StatsPermissionDenied, rows[0].StatsStatus)
	assert.Equal(t, tcptable.StatsPartial, p.Rows()[2].StatsStatus)
}

func TestPairTransfer(t *testing.T) {
	p := mock.New()
	pair, err := p.Dial("tcp4")
	require.NoError(t, err)
	mover := pair.(conformance.TransferPair)
	require.NoError(t, mover.Transfer(1000, 0))
	require.NoError(t, mover.Transfer(0, 300))
	require.ErrorIs(t, mover.Transfer(-1, 0), tcptable.ErrInvalid)
	rows, err := p.Table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	byLocal := map[string]*tcptable.Stats{}
	for _, c := range rows {
		byLocal[c.Local.String()] = c.Stats
	}
	cl, sv := byLocal[pair.Client().String()], byLocal[pair.Server().String()]
	require.NotNil(t, cl)
	require.NotNil(t, sv)
	assert.Equal(t, [2]uint64{1000, 300}, [2]uint64{cl.BytesSent, cl.BytesReceived})
	assert.Equal(t, [2]uint64{300, 1000}, [2]uint64{sv.BytesSent, sv.BytesReceived})
	assert.Equal(t, cl.SegmentsSent, sv.SegmentsReceived)

	require.NoError(t, pair.CloseActive())
	rows, err = p.Table(context.Background(), tcptable.Query{Stats: true})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, tcptable.StateTimeWait, rows[0].State)
	assert.Nil(t, rows[0].Stats)
	assert.Equal(t, tcptable.StatsNotAvailable, rows[0].StatsStatus, "TIME-WAIT keeps no counters")
	assert.Error(t, mover.Transfer(1, 1), "the pair is closed")
}
