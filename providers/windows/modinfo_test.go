package windows

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable"
)

// moduleBuf lays out a TCPIP_OWNER_MODULE_BASIC_INFO as Windows does: the
// two pointers, then the strings they point to, inside one buffer that
// starts at address base.
func moduleBuf(base uintptr, ptrSize int, name, path string) []byte {
	b := make([]byte, 2*ptrSize)
	put := func(slot int, s string) {
		addr := base + uintptr(len(b))
		for _, u := range utf16.Encode([]rune(s)) {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
		b = append(b, 0, 0)
		if ptrSize == 4 {
			binary.LittleEndian.PutUint32(b[slot*4:], uint32(addr))
		} else {
			binary.LittleEndian.PutUint64(b[slot*8:], uint64(addr))
		}
	}
	put(0, name)
	put(1, path)
	return append(b, 0xEE, 0xEE) // slack
}

func TestDecodeOwnerModule(t *testing.T) {
	for _, ptrSize := range []int{4, 8} {
		base := uintptr(0x10000)
		b := moduleBuf(base, ptrSize, "svchost.exe", `C:\Windows\System32\svchost.exe`)
		m, err := decodeOwnerModule(b, base, ptrSize)
		require.NoError(t, err, "ptrSize %d", ptrSize)
		assert.Equal(t, tcptable.Module{Name: "svchost.exe", Path: `C:\Windows\System32\svchost.exe`}, m)

		b = moduleBuf(base, ptrSize, "Dnscache", "ü😀")
		m, err = decodeOwnerModule(b, base, ptrSize)
		require.NoError(t, err)
		assert.Equal(t, tcptable.Module{Name: "Dnscache", Path: "ü😀"}, m, "surrogate pairs decode")
	}
}

func TestDecodeOwnerModuleErrors(t *testing.T) {
	base := uintptr(0x10000)
	good := moduleBuf(base, 8, "a.exe", `C:\a.exe`)

	null := make([]byte, 16)
	m, err := decodeOwnerModule(null, base, 8)
	require.NoError(t, err, "NULL pointers are empty strings")
	assert.True(t, m.IsZero())

	_, err = decodeOwnerModule(good[:15], base, 8)
	assert.ErrorContains(t, err, "shorter than its two pointers")

	_, err = decodeOwnerModule(good, base+0x1000, 8)
	assert.ErrorContains(t, err, "pModuleName 0x10010 points outside the")

	unterminated := append([]byte(nil), good[:len(good)-4]...) // drop the path's NUL and the slack
	_, err = decodeOwnerModule(unterminated, base, 8)
	assert.ErrorContains(t, err, "pModulePath: string at offset")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)

	_, err = decodeOwnerModule(good, base, 2)
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
}

func TestImageName(t *testing.T) {
	for path, want := range map[string]string{
		`C:\Windows\System32\svchost.exe`: "svchost.exe",
		`Z:\tmp\w4\win.test.exe`:          "win.test.exe",
		`\\?\C:\x\y.exe`:                  "y.exe",
		`/unix/style`:                     "style",
		"plain.exe":                       "plain.exe",
		"":                                "",
	} {
		assert.Equal(t, want, imageName(path), path)
	}
}
