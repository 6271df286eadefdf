package owners

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseInodeLink(t *testing.T) {
	for _, tc := range []struct {
		link, prefix string
		ino          uint64
		ok           bool
	}{
		{"socket:[12345]", "socket:", 12345, true},
		{"net:[4026531840]", "net:", 4026531840, true},
		{"socket:[]", "socket:", 0, false},
		{"socket:[12a]", "socket:", 0, false},
		{"socket:[12", "socket:", 0, false},
		{"pipe:[12]", "socket:", 0, false},
		{"/dev/null", "socket:", 0, false},
		{"anon_inode:[eventpoll]", "anon_inode:", 0, false},
		{"", "socket:", 0, false},
	} {
		ino, ok := parseInodeLink([]byte(tc.link), tc.prefix)
		assert.Equal(t, tc.ok, ok, tc.link)
		assert.Equal(t, tc.ino, ino, tc.link)
	}
}

func TestParsePID(t *testing.T) {
	pid, ok := parsePID([]byte("4242"))
	assert.True(t, ok)
	assert.Equal(t, uint32(4242), pid)
	for _, s := range []string{"self", "thread-self", "0", "012", "", "4294967296", "sys"} {
		_, ok := parsePID([]byte(s))
		assert.False(t, ok, s)
	}
}

func TestParseStatStart(t *testing.T) {
	// A comm with spaces and parentheses must not shift the fields.
	stat := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	v, err := parseStatStart([]byte(stat))
	require.NoError(t, err)
	assert.Equal(t, uint64(987654), v)

	v, err = parseStatStart([]byte("1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12\n"))
	require.NoError(t, err, "starttime as the last field")
	assert.Equal(t, uint64(12), v)

	for _, bad := range []string{
		"", "4242 no-paren S 1", "4242 (x) S 1 2 3",
		"1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 x12 5\n",
	} {
		_, err := parseStatStart([]byte(bad))
		assert.ErrorIs(t, err, errProcFile, "%q", bad)
	}
}

func TestParseComm(t *testing.T) {
	assert.Equal(t, "nginx: worker", parseComm([]byte("nginx: worker\n")))
	assert.Equal(t, "", parseComm(nil))
}

// dirent encodes a linux_dirent64 record.
func dirent(name string) []byte {
	reclen := align8(direntHeaderLen + len(name) + 1)
	b := make([]byte, reclen)
	binary.NativeEndian.PutUint64(b[0:], 1)
	binary.NativeEndian.PutUint16(b[16:], uint16(reclen))
	b[18] = 10 // DT_LNK
	copy(b[direntHeaderLen:], name)
	return b
}

func align8(n int) int { return (n + 7) &^ 7 }

func TestParseDirents(t *testing.T) {
	var b []byte
	for _, n := range []string{".", "..", "0", "1", "255"} {
		b = append(b, dirent(n)...)
	}
	var names []string
	require.NoError(t, parseDirents(b, func(name []byte, off int) {
		names = append(names, string(name))
		assert.Equal(t, name[0], b[off], "offset points at the name")
		assert.Equal(t, byte(0), b[off+len(name)], "name is NUL-terminated in place")
	}))
	assert.Equal(t, []string{"0", "1", "255"}, names)

	bad := dirent("12")
	binary.NativeEndian.PutUint16(bad[16:], 200)
	assert.ErrorIs(t, parseDirents(bad, func([]byte, int) {}), errProcFile)
	assert.ErrorIs(t, parseDirents(dirent("1")[:10], func([]byte, int) {}), errProcFile)
	noNUL := dirent("1234")
	for i := direntHeaderLen; i < len(noNUL); i++ {
		noNUL[i] = 'x'
	}
	assert.ErrorIs(t, parseDirents(noNUL, func([]byte, int) {}), errProcFile)
}
