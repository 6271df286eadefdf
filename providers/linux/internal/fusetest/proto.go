// Package fusetest serves a FUSE file system that answers until it is
// frozen and then never again, as a FUSE server that hangs does: any
// system call that reaches it waits in the kernel until the connection is
// aborted. Tests use it to prove that an owner scan never enters the file
// system of a file a process holds open. It needs root and /dev/fuse,
// and implements only what opening one file needs.
package fusetest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FUSE opcodes (include/uapi/linux/fuse.h) that the server answers or
// must not answer.
const (
	opLookup      = 1
	opForget      = 2
	opGetattr     = 3
	opOpen        = 14
	opRelease     = 18
	opFlush       = 25
	opInit        = 26
	opInterrupt   = 36
	opDestroy     = 38
	opBatchForget = 42
)

// Sizes of the protocol's structures.
const (
	inHeaderLen  = 40 // struct fuse_in_header
	outHeaderLen = 16 // struct fuse_out_header
	attrLen      = 88 // struct fuse_attr
)

// RootID and FileID are the node IDs of the mount's root and its one file.
const (
	rootID = 1
	fileID = 2
)

// FileName is the one file the file system holds.
const FileName = "file"

// errProto is wrapped by errors about a request the server cannot read.
var errProto = errors.New("fusetest: malformed FUSE request")

// request is a decoded fuse_in_header and its payload.
type request struct {
	opcode  uint32
	unique  uint64
	nodeID  uint64
	payload []byte
}

// parseRequest decodes one request that read(2) on /dev/fuse returned.
func parseRequest(b []byte) (request, error) {
	if len(b) < inHeaderLen {
		return request{}, fmt.Errorf("%w: %d bytes", errProto, len(b))
	}
	o := binary.NativeEndian
	n := o.Uint32(b)
	if int(n) > len(b) || n < inHeaderLen {
		return request{}, fmt.Errorf("%w: length %d of %d bytes read", errProto, n, len(b))
	}
	return request{opcode: o.Uint32(b[4:]), unique: o.Uint64(b[8:]), nodeID: o.Uint64(b[16:]), payload: b[inHeaderLen:n]}, nil
}

// reply encodes a fuse_out_header for unique with errno (0, or a positive
// errno sent negated) followed by body.
func reply(unique uint64, errno int32, body []byte) []byte {
	b := make([]byte, outHeaderLen+len(body))
	o := binary.NativeEndian
	o.PutUint32(b, uint32(len(b)))
	o.PutUint32(b[4:], uint32(-errno))
	o.PutUint64(b[8:], unique)
	copy(b[outHeaderLen:], body)
	return b
}

// attr encodes a struct fuse_attr for node id.
func attr(id uint64) []byte {
	b := make([]byte, attrLen)
	o := binary.NativeEndian
	o.PutUint64(b, id) // ino
	mode, nlink := uint32(0o100644), uint32(1)
	if id == rootID {
		mode, nlink = 0o40755, 2
	}
	o.PutUint32(b[60:], mode)
	o.PutUint32(b[64:], nlink)
	o.PutUint32(b[80:], 4096) // blksize
	return b
}

// answer returns the reply to req, or nil for a request that gets none
// (forgets) or that the server does not implement (ENOSYS is sent).
func answer(req request) []byte {
	o := binary.NativeEndian
	switch req.opcode {
	case opInit:
		body := make([]byte, 64)  // struct fuse_init_out
		o.PutUint32(body, 7)      // major
		o.PutUint32(body[4:], 31) // minor
		o.PutUint32(body[24:], 4096)
		return reply(req.unique, 0, body)
	case opLookup:
		name := req.payload
		if i := indexNUL(name); i >= 0 {
			name = name[:i]
		}
		if req.nodeID != rootID || string(name) != FileName {
			return reply(req.unique, 2, nil) // ENOENT
		}
		body := make([]byte, 40, 40+attrLen) // struct fuse_entry_out; valid times 0: ask every time
		o.PutUint64(body, fileID)
		return reply(req.unique, 0, append(body, attr(fileID)...))
	case opGetattr:
		body := make([]byte, 16, 16+attrLen) // struct fuse_attr_out; attr_valid 0
		return reply(req.unique, 0, append(body, attr(req.nodeID)...))
	case opOpen:
		return reply(req.unique, 0, make([]byte, 16)) // struct fuse_open_out
	case opRelease, opFlush:
		return reply(req.unique, 0, nil)
	case opForget, opBatchForget, opInterrupt, opDestroy:
		return nil
	}
	return reply(req.unique, 38, nil) // ENOSYS
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
