package bytesconv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseUint(t *testing.T) {
	for _, tc := range []struct {
		in   string
		base uint64
		max  uint64
		v    uint64
		ok   bool
	}{
		{"0", 10, 10, 0, true},
		{"4294967295", 10, 1<<32 - 1, 1<<32 - 1, true},
		{"4294967296", 10, 1<<32 - 1, 0, false},
		{"18446744073709551615", 10, 1<<64 - 1, 1<<64 - 1, true},
		{"18446744073709551616", 10, 1<<64 - 1, 0, false},
		{"fF", 16, 255, 255, true},
		{"100", 16, 255, 0, false},
		{"", 10, 10, 0, false},
		{"1a", 10, 100, 0, false},
		{"-1", 10, 100, 0, false},
	} {
		v, ok := ParseUint([]byte(tc.in), tc.base, tc.max)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.v, v, tc.in)
	}
}
