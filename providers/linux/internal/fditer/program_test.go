package fditer

import (
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testLayout(order binary.ByteOrder) iterLayout {
	return iterLayout{
		order: order, funcID: 7,
		ctxMeta: field{0, 8}, ctxTask: field{8, 8}, ctxFD: field{16, 4}, ctxFile: field{24, 8},
		metaSeq: field{0, 8}, fileInode: field{40, 8}, inodeMode: field{0, 2}, inodeIno: field{64, 8},
		taskTgid: field{2460, 4},
	}
}

// decoded is one instruction as the kernel reads it.
type decoded struct {
	op       uint8
	dst, src uint8
	off      int16
	imm      int32
}

func decode(t *testing.T, b []byte, order binary.ByteOrder) []decoded {
	t.Helper()
	require.Zero(t, len(b)%8)
	var out []decoded
	for i := 0; i < len(b); i += 8 {
		d := decoded{op: b[i], dst: b[i+1] & 0xf, src: b[i+1] >> 4,
			off: int16(order.Uint16(b[i+2:])), imm: int32(order.Uint32(b[i+4:]))}
		if order == binary.BigEndian {
			d.dst, d.src = b[i+1]>>4, b[i+1]&0xf
		}
		out = append(out, d)
	}
	return out
}

func TestFDIterProgram(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		l := testLayout(order)
		b, err := fdIterProgram(l)
		require.NoError(t, err)
		prog := decode(t, b, order)
		n := len(prog)
		require.Greater(t, n, 4)
		assert.Equal(t, decoded{op: 0xbf, dst: 6, src: 1}, prog[0], "r6 = ctx")
		assert.Equal(t, decoded{op: 0xb7}, prog[n-2], "r0 = 0")
		assert.Equal(t, decoded{op: 0x95}, prog[n-1], "exit")
		assert.Equal(t, decoded{op: 0x85, imm: bpfFuncSeqWrite}, prog[n-3], "call bpf_seq_write")
		jumps, loads := 0, map[int16][]uint8{}
		for i, in := range prog {
			switch in.op {
			case 0x15, 0x55: // jeq, jne: every one skips to the epilogue
				jumps++
				assert.Equal(t, n-2, i+1+int(in.off), "jump at %d", i)
			case 0x79, 0x61, 0x69: // loads
				loads[in.off] = append(loads[in.off], in.op)
			}
		}
		assert.Equal(t, 4, jumps)
		assert.Contains(t, loads[2460], uint8(0x61), "tgid: 4-byte load at its offset")
		assert.Contains(t, loads[0], uint8(0x69), "i_mode: 2-byte load")
		assert.Contains(t, loads[64], uint8(0x79), "i_ino: 8-byte load")
		assert.Contains(t, loads[40], uint8(0x79), "f_inode: pointer load")
	}
}

func TestFDIterProgramBadSize(t *testing.T) {
	l := testLayout(binary.LittleEndian)
	l.inodeIno.size = 3
	_, err := fdIterProgram(l)
	assert.ErrorIs(t, err, errBTF)
	assert.ErrorContains(t, err, "no load of 3 bytes")
}

func TestParseFDRecords(t *testing.T) {
	for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		var b []byte
		for _, r := range [][3]uint64{{1, 3, 100}, {1, 4, 1 << 40}, {77, 0, 5}} {
			b, _ = binary.Append(b, order, uint32(r[0]))
			b, _ = binary.Append(b, order, uint32(r[1]))
			b, _ = binary.Append(b, order, r[2])
		}
		var got [][3]uint64
		fn := func(pid, fd uint32, ino uint64) { got = append(got, [3]uint64{uint64(pid), uint64(fd), ino}) }
		assert.Equal(t, 48, parseFDRecords(b, order, fn))
		assert.Equal(t, [][3]uint64{{1, 3, 100}, {1, 4, 1 << 40}, {77, 0, 5}}, got)
		got = nil
		assert.Equal(t, 32, parseFDRecords(b[:47], order, fn), "a partial record is left for the next read")
		assert.Len(t, got, 2)
	}
}
