package events

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sample builds a record as the program writes it.
func sample() []byte {
	b := make([]byte, RecordSize)
	ne := binary.NativeEndian
	ne.PutUint64(b[0:], 1000)
	ne.PutUint64(b[8:], 42)
	ne.PutUint64(b[16:], 900)
	ne.PutUint64(b[24:], 3)
	ne.PutUint64(b[32:], 77) // owner.start
	ne.PutUint32(b[40:], 1234)
	b[44] = byte(OwnerProcess)
	copy(b[48:64], "curl")
	b[76] = byte(OwnerKernel) // prev.kind
	copy(b[96:], []byte{127, 0, 0, 1})
	copy(b[112:], []byte{127, 0, 0, 2})
	ne.PutUint32(b[128:], 5555)
	ne.PutUint32(b[132:], 1000)
	ne.PutUint32(b[136:], 2)
	ne.PutUint16(b[140:], 80)
	ne.PutUint16(b[142:], 40000)
	ne.PutUint16(b[144:], 2)
	b[146] = byte(KindOwner)
	b[147], b[148] = 1, 1
	b[149] = flagTimeWait
	return b
}

func TestDecode(t *testing.T) {
	var r Record
	require.NoError(t, Decode(sample(), &r))
	assert.Equal(t, Record{
		Kind: KindOwner, Time: 1000, Cookie: 42, Birth: 900, Lost: 3,
		Owner:  Owner{Kind: OwnerProcess, PID: 1234, Start: 77, Comm: "curl"},
		Prev:   Owner{Kind: OwnerKernel},
		Family: 2, Old: 1, New: 1, TimeWait: true, SPort: 80, DPort: 40000,
		Src: [16]byte{127, 0, 0, 1}, Dst: [16]byte{127, 0, 0, 2},
		Inode: 5555, UID: 1000, IfIndex: 2,
	}, r)

	// The flags byte: IPV6_V6ONLY alone.
	b := sample()
	b[149] = flagV6Only
	require.NoError(t, Decode(b, &r))
	assert.True(t, r.V6Only)
	assert.False(t, r.TimeWait)

	// A full comm has no terminating NUL.
	b = sample()
	copy(b[48:64], "0123456789abcdef")
	require.NoError(t, Decode(b, &r))
	assert.Equal(t, "0123456789abcdef", r.Owner.Comm)

	for _, bad := range [][]byte{nil, sample()[:RecordSize-1], append(sample(), 0)} {
		assert.ErrorIs(t, Decode(bad, &r), ErrMalformed)
	}
	b = sample()
	b[146] = 9
	err := Decode(b, &r)
	assert.True(t, errors.Is(err, ErrMalformed), "%v", err)
	assert.Contains(t, err.Error(), "kind 9")
}

func FuzzDecode(f *testing.F) {
	f.Add(sample())
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		_ = Decode(b, &r)
	})
}

func TestClock(t *testing.T) {
	wall := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(5_000_000_000, wall)
	assert.Equal(t, wall.Add(time.Second), c.Wall(6_000_000_000))
	assert.Equal(t, wall.Add(-time.Second), c.Wall(4_000_000_000))
	assert.True(t, c.Wall(0).IsZero(), "0 is unknown")
	assert.True(t, Clock{}.Wall(5).IsZero(), "no clock")

	base, w := bestSample([][3]int64{{100, 5000, 300}, {400, 6000, 420}, {900, 7000, 800}})
	assert.Equal(t, uint64(410), base, "the tightest bracket's middle")
	assert.Equal(t, time.Unix(0, 6000).UTC(), w)
	base, w = bestSample([][3]int64{{900, 7000, 800}})
	assert.Zero(t, base)
	assert.True(t, w.IsZero())
}

func TestUnion(t *testing.T) {
	a := Filter{Families: FamilyIPv4, States: 1 << 10, LocalPort: 80, Port: 8}
	b := Filter{Families: FamilyIPv6, States: 1 << 1, LocalPort: 80, RemotePort: 9, Port: 7}
	assert.Equal(t, Filter{Families: FamilyIPv4 | FamilyIPv6, States: 1<<10 | 1<<1, LocalPort: 80}, Union(a, b))
	assert.Equal(t, a, Union(a, a))
}
