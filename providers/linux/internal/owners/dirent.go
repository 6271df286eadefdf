package owners

import (
	"encoding/binary"
	"fmt"
)

// direntHeaderLen is the fixed part of struct linux_dirent64: d_ino (8),
// d_off (8), d_reclen (2), d_type (1); the NUL-terminated name follows.
const direntHeaderLen = 19

// parseDirents walks the linux_dirent64 records that getdents64 wrote into
// b and calls fn with each name (without its NUL; "." and ".." skipped) and
// the name's offset in b, so a caller can pass the NUL-terminated name to a
// system call without copying it. It returns an error wrapping errProcFile
// for a record that does not fit.
func parseDirents(b []byte, fn func(name []byte, off int)) error {
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < direntHeaderLen {
			return fmt.Errorf("%w: dirent of %d bytes at offset %d", errProcFile, len(rest), off)
		}
		reclen := int(binary.NativeEndian.Uint16(rest[16:]))
		if reclen <= direntHeaderLen || reclen > len(rest) {
			return fmt.Errorf("%w: dirent length %d at offset %d (%d bytes left)", errProcFile, reclen, off, len(rest))
		}
		name := rest[direntHeaderLen:reclen]
		n := 0
		for n < len(name) && name[n] != 0 {
			n++
		}
		if n == len(name) {
			return fmt.Errorf("%w: dirent name without NUL at offset %d", errProcFile, off)
		}
		name = name[:n]
		if !(n == 1 && name[0] == '.') && !(n == 2 && name[0] == '.' && name[1] == '.') {
			fn(name, off+direntHeaderLen)
		}
		off += reclen
	}
	return nil
}
