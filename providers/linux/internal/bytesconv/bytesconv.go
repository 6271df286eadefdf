// Package bytesconv parses the numbers of the kernel's text files (/proc)
// from bytes without allocating.
package bytesconv

// ParseUint parses b as an unsigned number in base 10 or 16 no greater
// than max, without allocating. ok is false for empty, non-digit or
// too-large input.
func ParseUint(b []byte, base, max uint64) (v uint64, ok bool) {
	if len(b) == 0 || len(b) > 20 {
		return 0, false
	}
	for _, c := range b {
		var d uint64
		switch {
		case c >= '0' && c <= '9':
			d = uint64(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = uint64(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if v > (max-d)/base {
			return 0, false
		}
		v = v*base + d
	}
	return v, true
}
