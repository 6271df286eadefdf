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

func TestParseStat(t *testing.T) {
	// A comm with spaces and parentheses must not shift the fields.
	stat := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10 18446744073709551615 94000 95000 140000 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat([]byte(stat))
	require.NoError(t, err)
	assert.Equal(t, "a) b (c", string(st.comm))
	assert.Equal(t, uint32(1), st.ppid)
	assert.Equal(t, uint64(987654), st.start)
	assert.Equal(t, uint64(94000), st.code)
	assert.Equal(t, uint64(140000), st.stack)

	st, err = parseStat([]byte("1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12\n"))
	require.NoError(t, err, "starttime as the last field")
	assert.Equal(t, uint64(12), st.start)
	assert.Zero(t, st.code, "fields beyond the end are 0")
	assert.Zero(t, st.stack)
	assert.Equal(t, "init", string(st.comm))

	for _, bad := range []string{
		"", "4242 no-paren S 1", "4242 (x) S 1 2 3", "4242 )x( S 1",
		"1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 x12 5\n",
		"1 (init) S -1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12 5\n",
		"1 (init) S 4294967296 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12 5\n",
		"1 (init) S 0 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 12 5 6 7 code\n",
	} {
		_, err := parseStat([]byte(bad))
		assert.ErrorIs(t, err, errProcFile, "%q", bad)
	}
}

func TestFullName(t *testing.T) {
	const comm = "my-long-server-" // 15 bytes: cut
	for _, tc := range []struct {
		name, exe, cmdline, want string
		ok                       bool
	}{
		{"executable", "/opt/bin/my-long-server-binary", "", "my-long-server-binary", true},
		{"deleted executable", "/opt/bin/my-long-server-binary (deleted)", "", "my-long-server-binary", true},
		{"argv[0] of a link", "/usr/bin/sleep", "/tmp/my-long-server-binary\x00300\x00", "my-long-server-binary", true},
		{"argv[0] without a path", "", "my-long-server-binary\x00", "my-long-server-binary", true},
		{"argv[0] without NUL", "", "my-long-server-binary", "my-long-server-binary", true},
		{"renamed", "/usr/bin/python3", "python3\x00x.py\x00", comm, false},
		{"exactly 15 bytes", "/usr/bin/my-long-server-", "my-long-server-\x00", comm, false},
		{"nothing", "", "", comm, false},
		{"a directory named like it", "/my-long-server-binary/x", "/my-long-server-binary/x\x00", comm, false},
	} {
		got, ok := fullName(comm, tc.exe, []byte(tc.cmdline))
		assert.Equal(t, tc.want, got, tc.name)
		assert.Equal(t, tc.ok, ok, tc.name)
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

func TestParseFDInfo(t *testing.T) {
	fi, err := parseFDInfo([]byte("pos:\t0\nflags:\t02004002\nmnt_id:\t9\nino:\t4242\n"))
	require.NoError(t, err)
	assert.Equal(t, fdInfo{flags: 0o2004002, ino: 4242, hasIno: true}, fi)
	fi, err = parseFDInfo([]byte("pos:\t0\nflags:\t02\nmnt_id:\t9\n"))
	require.NoError(t, err, "no ino before Linux 5.14")
	assert.Equal(t, fdInfo{flags: 2}, fi)
	for _, bad := range []string{"", "pos:\t0\n", "flags:\t09\n", "flags:\t02\nino:\tx\n"} {
		_, err := parseFDInfo([]byte(bad))
		assert.ErrorIs(t, err, errProcFile, "%q", bad)
	}
}
