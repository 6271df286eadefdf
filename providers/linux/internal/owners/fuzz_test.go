package owners

import (
	"bytes"
	"testing"
)

// FuzzParseProcFiles feeds arbitrary bytes to the /proc/PID parsers.
func FuzzParseProcFiles(f *testing.F) {
	f.Add([]byte("4242 (a) b (c) S 1 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000\n"))
	f.Add([]byte("socket:[12345]"))
	f.Add(dirent("123"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parseStatStart(b)
		_, _ = parseInodeLink(b, "socket:")
		_, _ = parsePID(b)
		_ = parseDirents(b, func(name []byte, off int) {
			if !bytes.Equal(b[off:off+len(name)], name) {
				t.Fatalf("offset %d does not point at %q", off, name)
			}
		})
	})
}
