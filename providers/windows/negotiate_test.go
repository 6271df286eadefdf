package windows

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// fakeOS answers like GetExtendedTcpTable for a table of need bytes that
// grows by grow bytes after every call, reporting tooSmall (with or without
// the size) when the buffer is short.
type fakeOS struct {
	need, grow int
	sizeless   bool // answer like STATUS_UNSUCCESSFUL: no size reported
	calls      int
	sizes      []int
}

func (f *fakeOS) fill(b []byte, size *uint32) error {
	f.calls++
	f.sizes = append(f.sizes, len(b))
	defer func() { f.need += f.grow }()
	if int(*size) != len(b) {
		return fmt.Errorf("size %d for a %d-byte buffer", *size, len(b))
	}
	if len(b) < f.need {
		if !f.sizeless {
			*size = uint32(f.need)
		}
		return fmt.Errorf("%w (fake)", errBufferTooSmall)
	}
	return nil
}

func TestNegotiate(t *testing.T) {
	t.Run("fits at once: the buffer is reused", func(t *testing.T) {
		f := &fakeOS{need: 100}
		buf := make([]byte, 200)
		got, err := negotiate("t", buf, 3, 1<<20, f.fill)
		require.NoError(t, err)
		assert.Same(t, &buf[0], &got[0])
		assert.Equal(t, 1, f.calls)
	})
	t.Run("grows with slack for a growing table", func(t *testing.T) {
		f := &fakeOS{need: 10000, grow: 500}
		got, err := negotiate("t", make([]byte, 8), 3, 1<<20, f.fill)
		require.NoError(t, err)
		assert.Equal(t, 2, f.calls, "the slack covers the growth between calls: %v", f.sizes)
		assert.GreaterOrEqual(t, len(got), 10500)
	})
	t.Run("no size reported: doubles", func(t *testing.T) {
		f := &fakeOS{need: 70000, sizeless: true}
		got, err := negotiate("t", make([]byte, 8), 10, 1<<20, f.fill)
		require.NoError(t, err)
		assert.Equal(t, []int{8, 4096, 8192, 16384, 32768, 65536, 131072}, f.sizes)
		assert.Len(t, got, 131072)
	})
	t.Run("bounded tries", func(t *testing.T) {
		f := &fakeOS{need: 10000, grow: 1 << 14}
		_, err := negotiate("GetExtendedTcpTable(ipv4)", make([]byte, 8), 4, 1<<30, f.fill)
		require.Error(t, err)
		assert.ErrorIs(t, err, tcptable.ErrInconsistent)
		assert.Contains(t, err.Error(), "GetExtendedTcpTable(ipv4)")
		assert.Contains(t, err.Error(), "after 4 tries")
		assert.Equal(t, 4, f.calls)
	})
	t.Run("absurd size is refused before allocating", func(t *testing.T) {
		f := &fakeOS{need: maxBufferSize + 1}
		_, err := negotiate("t", make([]byte, 8), 4, maxBufferSize, f.fill)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "asks for 268435457 bytes, more than the 268435456-byte limit")
		assert.Equal(t, 1, f.calls)
	})
	t.Run("other errors stop at once", func(t *testing.T) {
		boom := errors.New("access denied")
		calls := 0
		_, err := negotiate("t", make([]byte, 8), 4, 1<<20, func([]byte, *uint32) error { calls++; return boom })
		assert.ErrorIs(t, err, boom)
		assert.Equal(t, 1, calls)
	})
}

func TestOptions(t *testing.T) {
	c, err := apply(nil)
	require.NoError(t, err)
	assert.Equal(t, defaultConfig(), c)

	c, err = apply([]Option{WithInitialBufferSize(4096), WithRetries(2), nil})
	require.NoError(t, err)
	assert.Equal(t, config{initialSize: 4096, tries: 2}, c)

	for _, o := range []Option{WithInitialBufferSize(7), WithInitialBufferSize(maxBufferSize + 1), WithRetries(0)} {
		_, err := apply([]Option{o})
		assert.ErrorIs(t, err, tcptable.ErrInvalid)
	}
}
