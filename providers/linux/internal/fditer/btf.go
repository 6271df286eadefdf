package fditer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errBTF is wrapped by every error about the kernel's BTF (the type
// information in /sys/kernel/btf/vmlinux that the descriptor iterator needs).
var errBTF = errors.New("kernel BTF")

// BTF type kinds (include/uapi/linux/btf.h) that the layout search reads or
// must know the size of to skip.
const (
	btfKindInt      = 1
	btfKindPtr      = 2
	btfKindArray    = 3
	btfKindStruct   = 4
	btfKindUnion    = 5
	btfKindEnum     = 6
	btfKindFwd      = 7
	btfKindTypedef  = 8
	btfKindVolatile = 9
	btfKindConst    = 10
	btfKindRestrict = 11
	btfKindFunc     = 12
	btfKindProto    = 13
	btfKindVar      = 14
	btfKindDatasec  = 15
	btfKindFloat    = 16
	btfKindDeclTag  = 17
	btfKindTypeTag  = 18
	btfKindEnum64   = 19
)

// btfMagic opens every BTF blob, in the byte order of the kernel that wrote it.
const btfMagic = 0xeb9f

// field is one member's place in a kernel structure: byte offset and size.
type field struct {
	off  int16
	size uint8
}

// iterLayout is what the descriptor iterator program needs from the running
// kernel's BTF: the BTF id of the iterator target function and where the
// members it reads sit.
type iterLayout struct {
	order binary.ByteOrder // the kernel's
	// funcID is the BTF id of the FUNC bpf_iter_task_file, the program's
	// attach target.
	funcID uint32
	// The iterator context (struct bpf_iter__task_file).
	ctxMeta, ctxTask, ctxFD, ctxFile field
	metaSeq                          field // struct bpf_iter_meta.seq
	fileInode                        field // struct file.f_inode
	inodeMode, inodeIno              field // struct inode.i_mode, .i_ino
	taskTgid                         field // struct task_struct.tgid
}

// btfReader walks a BTF blob.
type btfReader struct {
	order binary.ByteOrder
	types []byte   // the type section
	strs  []byte   // the string section
	index []uint32 // offset in types of type id i+1
}

// parseIterLayout finds in a BTF blob (as /sys/kernel/btf/vmlinux holds it)
// the attach target and member offsets the descriptor iterator needs. It
// reads only what it needs: the type headers once, then the few structures
// by name. Any member that is missing, not byte aligned or of an
// unexpected size is an error wrapping errBTF that names it.
func parseIterLayout(b []byte) (iterLayout, error) {
	r, err := newBTFReader(b)
	if err != nil {
		return iterLayout{}, err
	}
	l := iterLayout{order: r.order}
	ids, err := r.named([]btfName{
		{btfKindFunc, "bpf_iter_task_file"}, {btfKindStruct, "bpf_iter__task_file"},
		{btfKindStruct, "bpf_iter_meta"}, {btfKindStruct, "file"}, {btfKindStruct, "inode"},
		{btfKindStruct, "task_struct"},
	})
	if err != nil {
		return l, err
	}
	l.funcID = ids["bpf_iter_task_file"]
	ptr := func(f *field) error {
		if f.size != 8 {
			return fmt.Errorf("%w: pointer of %d bytes, want 8", errBTF, f.size)
		}
		return nil
	}
	for _, m := range []struct {
		strct, member string
		dst           *field
		check         func(*field) error
	}{
		{"bpf_iter__task_file", "meta", &l.ctxMeta, ptr},
		{"bpf_iter__task_file", "task", &l.ctxTask, ptr},
		{"bpf_iter__task_file", "fd", &l.ctxFD, sized(4)},
		{"bpf_iter__task_file", "file", &l.ctxFile, ptr},
		{"bpf_iter_meta", "seq", &l.metaSeq, ptr},
		{"file", "f_inode", &l.fileInode, ptr},
		{"inode", "i_mode", &l.inodeMode, sized(2)},
		{"inode", "i_ino", &l.inodeIno, sized(4, 8)},
		{"task_struct", "tgid", &l.taskTgid, sized(4)},
	} {
		f, ok, err := r.member(ids[m.strct], m.member, 0)
		if err == nil && !ok {
			err = fmt.Errorf("%w: struct %s has no member %q", errBTF, m.strct, m.member)
		}
		if err == nil {
			err = m.check(&f)
		}
		if err != nil {
			return l, fmt.Errorf("struct %s.%s: %w", m.strct, m.member, err)
		}
		*m.dst = f
	}
	return l, nil
}

// sized returns a check that a field has one of the given sizes.
func sized(sizes ...uint8) func(*field) error {
	return func(f *field) error {
		for _, s := range sizes {
			if f.size == s {
				return nil
			}
		}
		return fmt.Errorf("%w: %d bytes, want %v", errBTF, f.size, sizes)
	}
}

// newBTFReader checks the header and indexes the type section.
func newBTFReader(b []byte) (*btfReader, error) {
	if len(b) < 24 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", errBTF, len(b))
	}
	r := &btfReader{}
	switch {
	case binary.LittleEndian.Uint16(b) == btfMagic:
		r.order = binary.LittleEndian
	case binary.BigEndian.Uint16(b) == btfMagic:
		r.order = binary.BigEndian
	default:
		return nil, fmt.Errorf("%w: bad magic %#04x", errBTF, binary.LittleEndian.Uint16(b))
	}
	o := r.order
	hdrLen, typeOff, typeLen := uint64(o.Uint32(b[4:])), uint64(o.Uint32(b[8:])), uint64(o.Uint32(b[12:]))
	strOff, strLen := uint64(o.Uint32(b[16:])), uint64(o.Uint32(b[20:]))
	size := uint64(len(b))
	if hdrLen < 24 || hdrLen+typeOff+typeLen > size || hdrLen+strOff+strLen > size {
		return nil, fmt.Errorf("%w: sections (header %d, types %d+%d, strings %d+%d) exceed the %d bytes",
			errBTF, hdrLen, typeOff, typeLen, strOff, strLen, size)
	}
	r.types = b[hdrLen+typeOff : hdrLen+typeOff+typeLen]
	r.strs = b[hdrLen+strOff : hdrLen+strOff+strLen]
	r.index = make([]uint32, 0, len(r.types)/24)
	for off := 0; off < len(r.types); {
		if len(r.types)-off < 12 {
			return nil, fmt.Errorf("%w: type %d truncated at byte %d", errBTF, len(r.index)+1, off)
		}
		info := o.Uint32(r.types[off+4:])
		n, err := btfExtra(info)
		if err != nil {
			return nil, fmt.Errorf("type %d: %w", len(r.index)+1, err)
		}
		if off+12+n > len(r.types) {
			return nil, fmt.Errorf("%w: type %d truncated at byte %d", errBTF, len(r.index)+1, off)
		}
		r.index = append(r.index, uint32(off))
		off += 12 + n
	}
	return r, nil
}

func btfKind(info uint32) uint32 { return info >> 24 & 0x1f }
func btfVlen(info uint32) int    { return int(info & 0xffff) }

// btfExtra is the size of what follows a type's 12-byte header.
func btfExtra(info uint32) (int, error) {
	switch btfKind(info) {
	case btfKindInt, btfKindVar, btfKindDeclTag:
		return 4, nil
	case btfKindArray:
		return 12, nil
	case btfKindStruct, btfKindUnion, btfKindDatasec, btfKindEnum64:
		return 12 * btfVlen(info), nil
	case btfKindEnum, btfKindProto:
		return 8 * btfVlen(info), nil
	case btfKindPtr, btfKindFwd, btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict,
		btfKindFunc, btfKindFloat, btfKindTypeTag:
		return 0, nil
	}
	return 0, fmt.Errorf("%w: unknown kind %d", errBTF, btfKind(info))
}

// header returns type id's name offset, info and size-or-type word, and
// what follows them.
func (r *btfReader) header(id uint32) (name, info, sizeType uint32, extra []byte, err error) {
	if id == 0 || int(id) > len(r.index) {
		return 0, 0, 0, nil, fmt.Errorf("%w: type id %d out of range 1..%d", errBTF, id, len(r.index))
	}
	t := r.types[r.index[id-1]:]
	info = r.order.Uint32(t[4:])
	n, _ := btfExtra(info) // checked by newBTFReader
	return r.order.Uint32(t), info, r.order.Uint32(t[8:]), t[12 : 12+n], nil
}

// nameIs reports whether the string at off is name.
func (r *btfReader) nameIs(off uint32, name string) bool {
	end := uint64(off) + uint64(len(name))
	return end < uint64(len(r.strs)) && string(r.strs[off:end]) == name && r.strs[end] == 0
}

// btfName is a type looked for by kind and name.
type btfName struct {
	kind uint32
	name string
}

// named returns, by name, the id of the first type of each wanted kind and
// name (names are distinct), in one pass over the types.
func (r *btfReader) named(want []btfName) (map[string]uint32, error) {
	var first [256]bool // a cheap filter before comparing names
	for _, w := range want {
		first[w.name[0]] = true
	}
	found := make([]uint32, len(want))
	left := len(want)
	for i, off := range r.index {
		t := r.types[off:]
		kind, name := btfKind(r.order.Uint32(t[4:])), r.order.Uint32(t)
		if (kind != btfKindStruct && kind != btfKindUnion && kind != btfKindFunc) || int(name) >= len(r.strs) || !first[r.strs[name]] {
			continue
		}
		for j, w := range want {
			if found[j] == 0 && w.kind == kind && r.nameIs(name, w.name) {
				found[j] = uint32(i + 1)
				left--
			}
		}
		if left == 0 {
			break
		}
	}
	ids := make(map[string]uint32, len(want))
	for j, w := range want {
		if found[j] == 0 {
			return nil, fmt.Errorf("%w: no %s %q (a kernel without this iterator?)", errBTF, btfKindName(w.kind), w.name)
		}
		ids[w.name] = found[j]
	}
	return ids, nil
}

func btfKindName(kind uint32) string {
	switch kind {
	case btfKindFunc:
		return "function"
	case btfKindStruct:
		return "struct"
	case btfKindUnion:
		return "union"
	}
	return fmt.Sprintf("kind %d", kind)
}

// maxBTFDepth bounds the anonymous members and type modifiers followed, so
// that a malformed (cyclic) blob cannot recurse forever.
const maxBTFDepth = 16

// member finds the named member of struct or union id, also inside its
// anonymous struct and union members, and returns its byte offset and size.
func (r *btfReader) member(id uint32, name string, depth int) (field, bool, error) {
	if depth > maxBTFDepth {
		return field{}, false, fmt.Errorf("%w: anonymous members nested deeper than %d", errBTF, maxBTFDepth)
	}
	_, info, _, extra, err := r.header(id)
	if err != nil {
		return field{}, false, err
	}
	if k := btfKind(info); k != btfKindStruct && k != btfKindUnion {
		return field{}, false, fmt.Errorf("%w: type %d is of kind %d, not a struct or union", errBTF, id, k)
	}
	for i := range btfVlen(info) {
		m := extra[12*i:]
		mName, mType, bits := r.order.Uint32(m), r.order.Uint32(m[4:]), r.order.Uint32(m[8:])
		bitfield := false
		if info>>31 != 0 { // kind_flag: the top byte is a bitfield size
			bitfield = bits>>24 != 0
			bits &= 0xffffff
		}
		var inner uint32
		if mName == 0 { // an anonymous struct or union is looked into; padding is not
			inner = r.strip(mType, depth)
			if _, info, _, _, err := r.header(inner); err != nil ||
				(btfKind(info) != btfKindStruct && btfKind(info) != btfKindUnion) {
				continue
			}
		} else if !r.nameIs(mName, name) {
			continue
		}
		if bits%8 != 0 || bitfield || bits/8 > 0x7fff {
			return field{}, false, fmt.Errorf("%w: member at bit %d is not a byte-aligned field", errBTF, bits)
		}
		if inner != 0 {
			f, ok, err := r.member(inner, name, depth+1)
			if ok || err != nil {
				f.off += int16(bits / 8)
				return f, ok, err
			}
			continue
		}
		size, err := r.size(mType, depth)
		return field{off: int16(bits / 8), size: size}, true, err
	}
	return field{}, false, nil
}

// strip follows typedefs and qualifiers to the type they name.
func (r *btfReader) strip(id uint32, depth int) uint32 {
	for ; depth <= maxBTFDepth; depth++ {
		_, info, next, _, err := r.header(id)
		if err != nil {
			return id
		}
		switch btfKind(info) {
		case btfKindTypedef, btfKindVolatile, btfKindConst, btfKindRestrict, btfKindTypeTag:
			id = next
		default:
			return id
		}
	}
	return id
}

// size returns the size in bytes of a scalar or pointer type.
func (r *btfReader) size(id uint32, depth int) (uint8, error) {
	id = r.strip(id, depth)
	_, info, size, _, err := r.header(id)
	if err != nil {
		return 0, err
	}
	switch btfKind(info) {
	case btfKindPtr:
		return 8, nil // BPF pointers are 64-bit
	case btfKindInt, btfKindEnum, btfKindEnum64:
		if size == 0 || size > 8 {
			return 0, fmt.Errorf("%w: scalar type %d of %d bytes", errBTF, id, size)
		}
		return uint8(size), nil
	}
	return 0, fmt.Errorf("%w: type %d of kind %d is not a scalar or pointer", errBTF, id, btfKind(info))
}
