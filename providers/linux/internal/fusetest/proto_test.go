package fusetest

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func header(opcode uint32, unique, node uint64, payload string) []byte {
	b := make([]byte, inHeaderLen, inHeaderLen+len(payload))
	o := binary.NativeEndian
	b = append(b, payload...)
	o.PutUint32(b, uint32(len(b)))
	o.PutUint32(b[4:], opcode)
	o.PutUint64(b[8:], unique)
	o.PutUint64(b[16:], node)
	return b
}

func TestAnswer(t *testing.T) {
	o := binary.NativeEndian
	req, err := parseRequest(header(opLookup, 7, rootID, FileName+"\x00"))
	require.NoError(t, err)
	out := answer(req)
	require.Len(t, out, outHeaderLen+40+attrLen)
	assert.Equal(t, uint32(len(out)), o.Uint32(out))
	assert.Zero(t, o.Uint32(out[4:]), "no error")
	assert.Equal(t, uint64(7), o.Uint64(out[8:]))
	assert.Equal(t, uint64(fileID), o.Uint64(out[outHeaderLen:]))

	req, _ = parseRequest(header(opLookup, 8, rootID, "other\x00"))
	assert.Equal(t, int32(-2), int32(o.Uint32(answer(req)[4:])), "ENOENT")
	req, _ = parseRequest(header(opForget, 9, fileID, ""))
	assert.Nil(t, answer(req))
	req, _ = parseRequest(header(999, 10, fileID, ""))
	assert.Equal(t, int32(-38), int32(o.Uint32(answer(req)[4:])), "ENOSYS")

	_, err = parseRequest(make([]byte, 10))
	assert.ErrorIs(t, err, errProto)
	bad := header(opInit, 1, 0, "")
	o.PutUint32(bad, 1000)
	_, err = parseRequest(bad)
	assert.ErrorIs(t, err, errProto)
}
