package events

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// TestLayout checks Decode's offsets against the struct bpf2go generated
// from the program's BTF.
func TestLayout(t *testing.T) {
	var r tracerRecord
	assert.Equal(t, uintptr(RecordSize), unsafe.Sizeof(r))
	assert.Equal(t, uintptr(ownerSize), unsafe.Sizeof(r.Owner))
	for _, c := range []struct {
		off  uintptr
		want uintptr
	}{
		{unsafe.Offsetof(r.Lost), 24}, {unsafe.Offsetof(r.Owner), 32}, {unsafe.Offsetof(r.Prev), 64},
		{unsafe.Offsetof(r.Saddr), 96}, {unsafe.Offsetof(r.Daddr), 112}, {unsafe.Offsetof(r.Ino), 128},
		{unsafe.Offsetof(r.Uid), 132}, {unsafe.Offsetof(r.Ifindex), 136}, {unsafe.Offsetof(r.Sport), 140},
		{unsafe.Offsetof(r.Dport), 142}, {unsafe.Offsetof(r.Family), 144}, {unsafe.Offsetof(r.Kind), 146},
		{unsafe.Offsetof(r.Oldstate), 147}, {unsafe.Offsetof(r.Newstate), 148}, {unsafe.Offsetof(r.Flags), 149},
		{unsafe.Offsetof(r.Owner.Pid), 8}, {unsafe.Offsetof(r.Owner.Kind), 12}, {unsafe.Offsetof(r.Owner.Comm), 16},
	} {
		assert.Equal(t, c.want, c.off)
	}
}
