package windows

import (
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/tcptable/tcptable"
)

// decodeOwnerModule decodes a TCPIP_OWNER_MODULE_BASIC_INFO that
// GetOwnerModuleFromTcpEntry wrote at the start of b, whose first byte is at
// address base: two pointers of ptrSize bytes (pModuleName, pModulePath) to
// NUL-terminated UTF-16 strings that the OS places inside the same buffer. A
// NULL pointer is an empty string; a pointer outside b or a string without
// its NUL inside b is an error, never a read beyond the buffer.
func decodeOwnerModule(b []byte, base uintptr, ptrSize int) (tcptable.Module, error) {
	if ptrSize != 4 && ptrSize != 8 {
		return tcptable.Module{}, fmt.Errorf("%w: pointer size %d", tcptable.ErrInvalid, ptrSize)
	}
	if len(b) < 2*ptrSize {
		return tcptable.Module{}, fmt.Errorf("%w: TCPIP_OWNER_MODULE_BASIC_INFO: buffer of %d bytes is shorter than its two pointers",
			tcptable.ErrInvalid, len(b))
	}
	name, err := utf16At(b, base, readPtr(b, ptrSize), "pModuleName")
	if err != nil {
		return tcptable.Module{}, err
	}
	path, err := utf16At(b, base, readPtr(b[ptrSize:], ptrSize), "pModulePath")
	if err != nil {
		return tcptable.Module{}, err
	}
	return tcptable.Module{Name: name, Path: path}, nil
}

func readPtr(b []byte, ptrSize int) uintptr {
	if ptrSize == 4 {
		return uintptr(binary.LittleEndian.Uint32(b))
	}
	return uintptr(binary.LittleEndian.Uint64(b))
}

// utf16At decodes the NUL-terminated UTF-16 string at address p inside b.
func utf16At(b []byte, base, p uintptr, member string) (string, error) {
	if p == 0 {
		return "", nil
	}
	if p < base || p-base >= uintptr(len(b)) {
		return "", fmt.Errorf("%w: TCPIP_OWNER_MODULE_BASIC_INFO.%s %#x points outside the %d-byte buffer at %#x",
			tcptable.ErrInvalid, member, p, len(b), base)
	}
	s := b[p-base:]
	units := make([]uint16, 0, len(s)/2)
	for i := 0; i+1 < len(s); i += 2 {
		u := binary.LittleEndian.Uint16(s[i:])
		if u == 0 {
			return string(utf16.Decode(units)), nil
		}
		units = append(units, u)
	}
	return "", fmt.Errorf("%w: TCPIP_OWNER_MODULE_BASIC_INFO.%s: string at offset %d has no NUL before the end of the %d-byte buffer",
		tcptable.ErrInvalid, member, p-base, len(b))
}

// imageName returns the file name of a Windows path.
func imageName(path string) string {
	return path[strings.LastIndexAny(path, `\/`)+1:]
}
