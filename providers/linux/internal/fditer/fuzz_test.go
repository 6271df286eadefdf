package fditer

import (
	"encoding/binary"
	"testing"
)

// FuzzParseIterLayout feeds arbitrary blobs to the BTF layout search (the
// kernel's /sys/kernel/btf/vmlinux is input like any other): it must never
// panic, and a layout it accepts must assemble.
func FuzzParseIterLayout(f *testing.F) {
	f.Add(kernelLike(binary.LittleEndian, nil))
	f.Add(kernelLike(binary.BigEndian, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseIterLayout(b)
		if err != nil {
			return
		}
		if _, err := fdIterProgram(l); err != nil {
			t.Fatalf("accepted layout %+v does not assemble: %v", l, err)
		}
	})
}
