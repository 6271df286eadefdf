package fditer

import (
	"encoding/binary"
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/internal/testenv"
)

// btfBuilder writes a BTF blob type by type.
type btfBuilder struct {
	order binary.ByteOrder
	types []byte
	strs  []byte
	next  uint32
}

func newBTFBuilder(order binary.ByteOrder) *btfBuilder {
	return &btfBuilder{order: order, strs: []byte{0}, next: 1}
}

func (b *btfBuilder) str(s string) uint32 {
	if s == "" {
		return 0
	}
	off := uint32(len(b.strs))
	b.strs = append(append(b.strs, s...), 0)
	return off
}

func (b *btfBuilder) u32(v ...uint32) {
	for _, x := range v {
		b.types, _ = binary.Append(b.types, b.order, x)
	}
}

// typ adds a type header and returns its id.
func (b *btfBuilder) typ(name string, kind uint32, vlen int, kindFlag bool, sizeType uint32) uint32 {
	info := kind<<24 | uint32(vlen)
	if kindFlag {
		info |= 1 << 31
	}
	b.u32(b.str(name), info, sizeType)
	id := b.next
	b.next++
	return id
}

func (b *btfBuilder) intType(name string, size uint32) uint32 {
	id := b.typ(name, btfKindInt, 0, false, size)
	b.u32(size * 8)
	return id
}

type btfMember struct {
	name string
	typ  uint32
	bits uint32 // bit offset (with the bitfield size in the top byte if the struct has kind_flag)
}

func (b *btfBuilder) structType(name string, kind uint32, size uint32, kindFlag bool, ms ...btfMember) uint32 {
	id := b.typ(name, kind, len(ms), kindFlag, size)
	for _, m := range ms {
		b.u32(b.str(m.name), m.typ, m.bits)
	}
	return id
}

func (b *btfBuilder) bytes() []byte {
	h := make([]byte, 24)
	b.order.PutUint16(h, btfMagic)
	h[2] = 1
	b.order.PutUint32(h[4:], 24)
	b.order.PutUint32(h[8:], 0)
	b.order.PutUint32(h[12:], uint32(len(b.types)))
	b.order.PutUint32(h[16:], uint32(len(b.types)))
	b.order.PutUint32(h[20:], uint32(len(b.strs)))
	return append(append(h, b.types...), b.strs...)
}

// kernelLike builds the types the layout search reads, shaped as in a
// real kernel: members inside anonymous unions, typedefs, a bitfield
// struct, padding members, other kinds to skip.
func kernelLike(order binary.ByteOrder, mutate func(*btfBuilder, map[string]uint32)) []byte {
	b := newBTFBuilder(order)
	ids := map[string]uint32{}
	u16 := b.intType("unsigned short", 2)
	u32 := b.intType("unsigned int", 4)
	ulong := b.intType("long unsigned int", 8)
	ids["int"] = b.intType("int", 4)
	umode := b.typ("umode_t", btfKindTypedef, 0, false, u16)
	pidT := b.typ("pid_t", btfKindTypedef, 0, false, ids["int"])
	cpid := b.typ("", btfKindConst, 0, false, pidT)
	b.typ("E", btfKindEnum, 2, false, 4)
	b.u32(b.str("A"), 0, b.str("B"), 1)
	b.typ("proto", btfKindProto, 1, false, ids["int"])
	b.u32(0, u32)
	arr := b.typ("", btfKindArray, 0, false, 0)
	b.u32(u32, u32, 4)
	inodeFwd := b.typ("inode", btfKindFwd, 0, false, 0) // a forward declaration of the same name comes first
	_ = inodeFwd
	inode := b.structType("inode", btfKindStruct, 64, true,
		btfMember{"i_mode", umode, 0},
		btfMember{"", u32, 3<<24 | 16}, // padding bitfield
		btfMember{"i_flags", u32, 3<<24 | 32},
		btfMember{"i_ino", ulong, 64 * 8 / 2})
	inodePtr := b.typ("", btfKindPtr, 0, false, inode)
	fileUnion := b.structType("", btfKindUnion, 8, false, btfMember{"f_inode", inodePtr, 0}, btfMember{"other", ulong, 0})
	ids["file"] = b.structType("file", btfKindStruct, 64, false,
		btfMember{"f_count", ulong, 0}, btfMember{"pad", arr, 64}, btfMember{"", fileUnion, 32 * 8})
	fileTaskUnionInner := b.structType("", btfKindStruct, 16, false, btfMember{"x", u32, 0}, btfMember{"tgid", cpid, 64})
	ids["task_struct"] = b.structType("task_struct", btfKindStruct, 4096, false,
		btfMember{"state", u32, 0}, btfMember{"", fileTaskUnionInner, 1200 * 8})
	seqFile := b.structType("seq_file", btfKindStruct, 128, false)
	seqPtr := b.typ("", btfKindPtr, 0, false, seqFile)
	meta := b.structType("bpf_iter_meta", btfKindStruct, 24, false, btfMember{"seq", seqPtr, 0})
	metaPtr := b.typ("", btfKindPtr, 0, false, meta)
	taskPtr := b.typ("", btfKindPtr, 0, false, ids["task_struct"])
	filePtr := b.typ("", btfKindPtr, 0, false, ids["file"])
	un := func(name string, t uint32) uint32 {
		return b.structType("", btfKindUnion, 8, false, btfMember{name, t, 0})
	}
	ids["ctx"] = b.structType("bpf_iter__task_file", btfKindStruct, 32, false,
		btfMember{"", un("meta", metaPtr), 0}, btfMember{"", un("task", taskPtr), 64},
		btfMember{"fd", u32, 128}, btfMember{"", un("file", filePtr), 192})
	b.typ("bpf_iter_task", btfKindFunc, 0, false, 0)
	ids["func"] = b.typ("bpf_iter_task_file", btfKindFunc, 0, false, 0)
	b.typ("tag", btfKindDeclTag, 0, false, ids["func"])
	b.u32(0)
	if mutate != nil {
		mutate(b, ids)
	}
	return b.bytes()
}

func TestParseIterLayout(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		b := kernelLike(order, nil)
		l, err := parseIterLayout(b)
		require.NoError(t, err, "%v", order)
		want := iterLayout{
			order:     order,
			funcID:    l.funcID,
			ctxMeta:   field{0, 8},
			ctxTask:   field{8, 8},
			ctxFD:     field{16, 4},
			ctxFile:   field{24, 8},
			metaSeq:   field{0, 8},
			fileInode: field{32, 8},
			inodeMode: field{0, 2},
			inodeIno:  field{32, 8},
			taskTgid:  field{1208, 4},
		}
		assert.Equal(t, want, l, "%v", order)
		r, err := newBTFReader(b)
		require.NoError(t, err)
		ids, err := r.named([]btfName{{btfKindFunc, "bpf_iter_task_file"}, {btfKindStruct, "inode"}})
		require.NoError(t, err)
		assert.Equal(t, ids["bpf_iter_task_file"], l.funcID)
		_, info, _, _, err := r.header(ids["inode"])
		require.NoError(t, err)
		assert.Equal(t, uint32(btfKindStruct), btfKind(info), "the struct, not the forward declaration before it")
		assert.NotEqual(t, uint32(0), l.funcID)
	}
}

func TestParseIterLayoutErrors(t *testing.T) {
	le := binary.LittleEndian
	good := kernelLike(le, nil)
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than a header"},
		{"bad-magic", append([]byte{1, 2}, good[2:]...), "bad magic"},
		{"sections-beyond", good[:len(good)-1], "exceed"},
		{"truncated-type", func() []byte {
			b := kernelLike(le, func(b *btfBuilder, _ map[string]uint32) { b.types = append(b.types, 1, 2, 3) })
			return b
		}(), "truncated"},
		{"unknown-kind", kernelLike(le, func(b *btfBuilder, _ map[string]uint32) { b.typ("x", 31, 0, false, 0) }), "unknown kind 31"},
		{"no-iterator", kernelLike(le, func(b *btfBuilder, ids map[string]uint32) {
			b.types = b.types[:0] // a kernel without BTF types at all
		}), `no function "bpf_iter_task_file"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseIterLayout(tc.b)
			require.Error(t, err)
			assert.True(t, errors.Is(err, errBTF), "%v", err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestParseIterLayoutMembers checks the member errors on a blob whose
// structs lack or misplace what the program reads.
func TestParseIterLayoutMembers(t *testing.T) {
	le := binary.LittleEndian
	build := func(inode ...btfMember) []byte {
		b := newBTFBuilder(le)
		u16 := b.intType("unsigned short", 2)
		u32 := b.intType("unsigned int", 4)
		ulong := b.intType("long unsigned int", 8)
		ptr := b.typ("", btfKindPtr, 0, false, u32)
		for i := range inode {
			switch inode[i].typ {
			case 2:
				inode[i].typ = u16
			case 4:
				inode[i].typ = u32
			case 8:
				inode[i].typ = ulong
			}
		}
		b.structType("bpf_iter__task_file", btfKindStruct, 32, false,
			btfMember{"meta", ptr, 0}, btfMember{"task", ptr, 64}, btfMember{"fd", u32, 128}, btfMember{"file", ptr, 192})
		b.structType("bpf_iter_meta", btfKindStruct, 8, false, btfMember{"seq", ptr, 0})
		b.structType("file", btfKindStruct, 8, false, btfMember{"f_inode", ptr, 0})
		b.structType("inode", btfKindStruct, 64, true, inode...)
		b.structType("task_struct", btfKindStruct, 8, false, btfMember{"tgid", u32, 0})
		b.typ("bpf_iter_task_file", btfKindFunc, 0, false, 0)
		return b.bytes()
	}
	_, err := parseIterLayout(build(btfMember{"i_mode", 2, 0}, btfMember{"i_ino", 8, 64}))
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		inode []btfMember
		want  string
	}{
		{"missing", []btfMember{{"i_mode", 2, 0}}, `struct inode has no member "i_ino"`},
		{"wrong-size", []btfMember{{"i_mode", 4, 0}, {"i_ino", 8, 64}}, "struct inode.i_mode: kernel BTF: 4 bytes, want [2]"},
		{"bitfield", []btfMember{{"i_mode", 2, 0}, {"i_ino", 8, 4<<24 | 64}}, "not a byte-aligned field"},
		{"unaligned", []btfMember{{"i_mode", 2, 3}, {"i_ino", 8, 64}}, "not a byte-aligned field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseIterLayout(build(tc.inode...))
			require.Error(t, err)
			assert.ErrorIs(t, err, errBTF)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestParseIterLayoutCycle checks that a blob whose anonymous members
// contain themselves is an error, not a stack overflow.
func TestParseIterLayoutCycle(t *testing.T) {
	b := newBTFBuilder(binary.LittleEndian)
	b.structType("inode", btfKindStruct, 8, false, btfMember{"", 1, 0}) // type 1 is itself
	r, err := newBTFReader(b.bytes())
	require.NoError(t, err)
	_, _, err = r.member(1, "i_ino", 0)
	assert.ErrorContains(t, err, "nested deeper")
}

// TestParseIterLayoutVmlinux reads the running kernel's BTF, where there
// is one.
func TestParseIterLayoutVmlinux(t *testing.T) {
	b := readVmlinux(t)
	l, err := parseIterLayout(b)
	require.NoError(t, err)
	assert.NotZero(t, l.funcID)
	// The iterator context is the kernel's ABI: four 8-byte argument slots.
	assert.Equal(t, []field{{0, 8}, {8, 8}, {16, 4}, {24, 8}}, []field{l.ctxMeta, l.ctxTask, l.ctxFD, l.ctxFile})
	assert.Equal(t, uint8(2), l.inodeMode.size)
	assert.Equal(t, uint8(4), l.taskTgid.size)
	assert.Positive(t, l.taskTgid.off)
}

func BenchmarkParseIterLayoutVmlinux(b *testing.B) {
	blob := readVmlinux(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseIterLayout(blob); err != nil {
			b.Fatal(err)
		}
	}
}

// fanOutBTF builds a blob with every type the layout search looks for,
// where the iterator context holds levels nested levels of anonymous
// structs, each holding the next fanout times, and none the members
// searched for: a search that explores every path visits fanout^levels
// members.
func fanOutBTF(levels, fanout int) []byte {
	b := newBTFBuilder(binary.LittleEndian)
	next := b.structType("", btfKindStruct, 8, false)
	for range levels - 1 {
		ms := make([]btfMember, fanout)
		for i := range ms {
			ms[i] = btfMember{"", next, 0}
		}
		next = b.structType("", btfKindStruct, 8, false, ms...)
	}
	ms := make([]btfMember, fanout)
	for i := range ms {
		ms[i] = btfMember{"", next, 0}
	}
	b.structType("bpf_iter__task_file", btfKindStruct, 8, false, ms...)
	for _, name := range []string{"bpf_iter_meta", "file", "inode", "task_struct"} {
		b.structType(name, btfKindStruct, 8, false)
	}
	b.typ("bpf_iter_task_file", btfKindFunc, 0, false, 0)
	return b.bytes()
}

// TestParseIterLayoutFanOut: the member search visits each struct once per
// member name, however often the anonymous members repeat it (it once
// visited 3^16 of them for the fan-out seed of FuzzParseIterLayout).
func TestParseIterLayoutFanOut(t *testing.T) {
	blob := fanOutBTF(maxBTFDepth, 3)
	r, err := newBTFReader(blob)
	require.NoError(t, err)
	ids, err := r.named([]btfName{{btfKindStruct, "bpf_iter__task_file"}})
	require.NoError(t, err)
	_, ok, err := r.member(ids["bpf_iter__task_file"], "meta", 0)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.LessOrEqual(t, r.visits, maxBTFDepth+1, "structs searched for one name")
	_, err = parseIterLayout(blob)
	assert.ErrorContains(t, err, `struct bpf_iter__task_file has no member "meta"`)
}

// readVmlinux returns the running kernel's BTF. Elsewhere than on Linux
// the test does not apply (a plain skip); a Linux kernel without BTF is a
// missing requirement (testenv.SkipOrFail).
func readVmlinux(t interface {
	testenv.TB
	Skip(args ...any)
}) []byte {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("kernel BTF is Linux's")
	}
	b, err := os.ReadFile("/sys/kernel/btf/vmlinux")
	if err != nil {
		testenv.SkipOrFail(t, "no kernel BTF here (%v): needs Linux 5.4+ with CONFIG_DEBUG_INFO_BTF", err)
	}
	return b
}
