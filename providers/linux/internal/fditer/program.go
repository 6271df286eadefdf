package fditer

import (
	"encoding/binary"
	"fmt"
)

// The descriptor iterator is a BPF program of type BPF_PROG_TYPE_TRACING
// attached to the kernel's task_file iterator: the kernel calls it once for
// every open file of every process (threads sharing their process's file
// table are skipped), and for each socket it writes one fdRecord to the
// iterator's output, which the provider reads like a file. One read of a
// few megabytes replaces a path walk in /proc for every descriptor.
//
// The program, in pseudo C, over struct bpf_iter__task_file *ctx:
//
//	struct task_struct *task = ctx->task; struct file *file = ctx->file;
//	if (!task || !file) return 0;
//	struct inode *inode = file->f_inode;
//	if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK) return 0;
//	struct { u32 tgid, fd; u64 ino; } rec = { task->tgid, ctx->fd, inode->i_ino };
//	bpf_seq_write(ctx->meta->seq, &rec, sizeof rec);
//	return 0;

// fdRecordSize is the size of one record: tgid, fd (u32 each) and the
// socket's inode number (u64), in the kernel's byte order.
const fdRecordSize = 16

// BPF instruction classes, sizes, modes, operations and sources
// (include/uapi/linux/bpf_common.h, bpf.h).
const (
	bpfLDX   = 0x01
	bpfSTX   = 0x03
	bpfALU64 = 0x07
	bpfJMP   = 0x05
	bpfMEM   = 0x60
	bpfW     = 0x00
	bpfH     = 0x08
	bpfB     = 0x10
	bpfDW    = 0x18
	bpfADD   = 0x00
	bpfAND   = 0x50
	bpfMOV   = 0xb0
	bpfJEQ   = 0x10
	bpfJNE   = 0x50
	bpfCALL  = 0x80
	bpfEXIT  = 0x90
	bpfK     = 0x00
	bpfX     = 0x08

	bpfFuncSeqWrite = 127 // BPF_FUNC_seq_write

	sIFMT   = 0o170000
	sIFSOCK = 0o140000
)

// bpfInsn is one BPF instruction.
type bpfInsn struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
	jumpEnd  bool // a jump to the program's epilogue; off is set by assemble
}

func ldx(f field, dst, src uint8) (bpfInsn, error) {
	var size uint8
	switch f.size {
	case 1:
		size = bpfB
	case 2:
		size = bpfH
	case 4:
		size = bpfW
	case 8:
		size = bpfDW
	default:
		return bpfInsn{}, fmt.Errorf("%w: no load of %d bytes", errBTF, f.size)
	}
	return bpfInsn{op: bpfLDX | bpfMEM | size, dst: dst, src: src, off: f.off}, nil
}

// fdIterProgram assembles the descriptor iterator for a kernel's layout and
// returns its instructions encoded in the kernel's byte order.
func fdIterProgram(l iterLayout) ([]byte, error) {
	const (
		r0, r1, r2, r3, r6, r7, r8, r10 = 0, 1, 2, 3, 6, 7, 8, 10
	)
	exitIfZero := func(reg uint8) bpfInsn { return bpfInsn{op: bpfJMP | bpfJEQ | bpfK, dst: reg, jumpEnd: true} }
	var prog []bpfInsn
	var err error
	emit := func(in ...bpfInsn) { prog = append(prog, in...) }
	load := func(f field, dst, src uint8) {
		in, e := ldx(f, dst, src)
		if e != nil && err == nil {
			err = e
		}
		emit(in)
	}
	emit(bpfInsn{op: bpfALU64 | bpfMOV | bpfX, dst: r6, src: r1}) // r6 = ctx
	load(l.ctxTask, r7, r6)                                       // r7 = ctx->task
	emit(exitIfZero(r7))
	load(l.ctxFile, r8, r6) // r8 = ctx->file
	emit(exitIfZero(r8))
	load(l.fileInode, r2, r8) // r2 = file->f_inode
	emit(exitIfZero(r2))
	load(l.inodeMode, r3, r2) // r3 = inode->i_mode & S_IFMT
	emit(bpfInsn{op: bpfALU64 | bpfAND | bpfK, dst: r3, imm: sIFMT},
		bpfInsn{op: bpfJMP | bpfJNE | bpfK, dst: r3, imm: sIFSOCK, jumpEnd: true})
	load(l.inodeIno, r3, r2) // rec.ino = inode->i_ino
	emit(bpfInsn{op: bpfSTX | bpfMEM | bpfDW, dst: r10, src: r3, off: -8})
	load(l.taskTgid, r3, r7) // rec.tgid = task->tgid
	emit(bpfInsn{op: bpfSTX | bpfMEM | bpfW, dst: r10, src: r3, off: -16})
	load(l.ctxFD, r3, r6) // rec.fd = ctx->fd
	emit(bpfInsn{op: bpfSTX | bpfMEM | bpfW, dst: r10, src: r3, off: -12})
	load(l.ctxMeta, r1, r6) // r1 = ctx->meta->seq
	load(l.metaSeq, r1, r1)
	emit(bpfInsn{op: bpfALU64 | bpfMOV | bpfX, dst: r2, src: r10}, // r2 = &rec
		bpfInsn{op: bpfALU64 | bpfADD | bpfK, dst: r2, imm: -fdRecordSize},
		bpfInsn{op: bpfALU64 | bpfMOV | bpfK, dst: r3, imm: fdRecordSize},
		bpfInsn{op: bpfJMP | bpfCALL, imm: bpfFuncSeqWrite})
	end := len(prog) // the epilogue: return 0
	emit(bpfInsn{op: bpfALU64 | bpfMOV | bpfK, dst: r0},
		bpfInsn{op: bpfJMP | bpfEXIT})
	if err != nil {
		return nil, err
	}
	return assemble(prog, end, l.order), nil
}

// assemble resolves the jumps to the epilogue at index end and encodes the
// instructions (struct bpf_insn: code, dst_reg:4 and src_reg:4 in the byte
// order's bit-field order, off, imm).
func assemble(prog []bpfInsn, end int, order binary.ByteOrder) []byte {
	out := make([]byte, 0, 8*len(prog))
	for i, in := range prog {
		if in.jumpEnd {
			in.off = int16(end - i - 1)
		}
		regs := in.dst&0xf | in.src<<4
		if order == binary.BigEndian {
			regs = in.dst<<4 | in.src&0xf
		}
		var b [8]byte
		b[0], b[1] = in.op, regs
		order.PutUint16(b[2:], uint16(in.off))
		order.PutUint32(b[4:], uint32(in.imm))
		out = append(out, b[:]...)
	}
	return out
}

// parseFDRecords calls fn for every whole record in b and returns how many
// bytes it consumed (a multiple of fdRecordSize; the rest is the start of
// a record that the next read completes).
func parseFDRecords(b []byte, order binary.ByteOrder, fn func(pid, fd uint32, ino uint64)) int {
	n := len(b) - len(b)%fdRecordSize
	for i := 0; i < n; i += fdRecordSize {
		r := b[i : i+fdRecordSize]
		fn(order.Uint32(r), order.Uint32(r[4:]), order.Uint64(r[8:]))
	}
	return n
}
