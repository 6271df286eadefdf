package fditer

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tcptable/tcptable/internal/testenv"
)

// TestAttrLayoutKernel checks the bpf(2) attributes against the running
// kernel's own union bpf_attr and union bpf_iter_link_info, read from its
// BTF: every member the loader's types name sits at the kernel's offset
// with the kernel's size (members this kernel does not have yet are
// skipped: the kernel reads them as zero). Every member of a union is at
// its offset 0, so an offset in the union is one in the command's member.
func TestAttrLayoutKernel(t *testing.T) {
	b, release, err := readBTF()
	if err != nil {
		testenv.SkipOrFail(t, "no kernel BTF (%v): needs Linux 5.8+ with CONFIG_DEBUG_INFO_BTF", err)
	}
	defer release()
	r, err := newBTFReader(b)
	require.NoError(t, err)
	ids, err := r.named([]btfName{{btfKindUnion, "bpf_attr"}, {btfKindUnion, "bpf_iter_link_info"}})
	require.NoError(t, err)
	attr, info := ids["bpf_attr"], ids["bpf_iter_link_info"]

	var pl progLoadAttr
	var lc linkCreateAttr
	var li iterLinkInfo
	var ic iterCreateAttr
	for _, m := range []struct {
		union     uint32
		path      []string
		off, size uintptr
	}{
		{attr, []string{"prog_type"}, unsafe.Offsetof(pl.progType), unsafe.Sizeof(pl.progType)},
		{attr, []string{"insn_cnt"}, unsafe.Offsetof(pl.insnCnt), unsafe.Sizeof(pl.insnCnt)},
		{attr, []string{"insns"}, unsafe.Offsetof(pl.insns), unsafe.Sizeof(pl.insns)},
		{attr, []string{"license"}, unsafe.Offsetof(pl.license), unsafe.Sizeof(pl.license)},
		{attr, []string{"log_level"}, unsafe.Offsetof(pl.logLevel), unsafe.Sizeof(pl.logLevel)},
		{attr, []string{"log_size"}, unsafe.Offsetof(pl.logSize), unsafe.Sizeof(pl.logSize)},
		{attr, []string{"log_buf"}, unsafe.Offsetof(pl.logBuf), unsafe.Sizeof(pl.logBuf)},
		{attr, []string{"kern_version"}, unsafe.Offsetof(pl.kernVersion), unsafe.Sizeof(pl.kernVersion)},
		{attr, []string{"prog_flags"}, unsafe.Offsetof(pl.progFlags), unsafe.Sizeof(pl.progFlags)},
		{attr, []string{"prog_name"}, unsafe.Offsetof(pl.progName), unsafe.Sizeof(pl.progName)},
		{attr, []string{"prog_ifindex"}, unsafe.Offsetof(pl.progIfindex), unsafe.Sizeof(pl.progIfindex)},
		{attr, []string{"expected_attach_type"}, unsafe.Offsetof(pl.expectedAttachType), unsafe.Sizeof(pl.expectedAttachType)},
		{attr, []string{"prog_btf_fd"}, unsafe.Offsetof(pl.progBTFFD), unsafe.Sizeof(pl.progBTFFD)},
		{attr, []string{"func_info_rec_size"}, unsafe.Offsetof(pl.funcInfoRecSize), unsafe.Sizeof(pl.funcInfoRecSize)},
		{attr, []string{"func_info"}, unsafe.Offsetof(pl.funcInfo), unsafe.Sizeof(pl.funcInfo)},
		{attr, []string{"func_info_cnt"}, unsafe.Offsetof(pl.funcInfoCnt), unsafe.Sizeof(pl.funcInfoCnt)},
		{attr, []string{"line_info_rec_size"}, unsafe.Offsetof(pl.lineInfoRecSize), unsafe.Sizeof(pl.lineInfoRecSize)},
		{attr, []string{"line_info"}, unsafe.Offsetof(pl.lineInfo), unsafe.Sizeof(pl.lineInfo)},
		{attr, []string{"line_info_cnt"}, unsafe.Offsetof(pl.lineInfoCnt), unsafe.Sizeof(pl.lineInfoCnt)},
		{attr, []string{"attach_btf_id"}, unsafe.Offsetof(pl.attachBTFID), unsafe.Sizeof(pl.attachBTFID)},
		{attr, []string{"attach_btf_obj_fd"}, unsafe.Offsetof(pl.attachBTFObjFD), unsafe.Sizeof(pl.attachBTFObjFD)},
		{attr, []string{"core_relo_cnt"}, unsafe.Offsetof(pl.coreReloCnt), unsafe.Sizeof(pl.coreReloCnt)},
		{attr, []string{"fd_array"}, unsafe.Offsetof(pl.fdArray), unsafe.Sizeof(pl.fdArray)},
		{attr, []string{"core_relos"}, unsafe.Offsetof(pl.coreRelos), unsafe.Sizeof(pl.coreRelos)},
		{attr, []string{"core_relo_rec_size"}, unsafe.Offsetof(pl.coreReloRecSize), unsafe.Sizeof(pl.coreReloRecSize)},
		{attr, []string{"log_true_size"}, unsafe.Offsetof(pl.logTrueSize), unsafe.Sizeof(pl.logTrueSize)},
		{attr, []string{"prog_token_fd"}, unsafe.Offsetof(pl.progTokenFD), unsafe.Sizeof(pl.progTokenFD)},
		{attr, []string{"fd_array_cnt"}, unsafe.Offsetof(pl.fdArrayCnt), unsafe.Sizeof(pl.fdArrayCnt)},
		{attr, []string{"signature"}, unsafe.Offsetof(pl.signature), unsafe.Sizeof(pl.signature)},
		{attr, []string{"signature_size"}, unsafe.Offsetof(pl.signatureSize), unsafe.Sizeof(pl.signatureSize)},
		{attr, []string{"keyring_id"}, unsafe.Offsetof(pl.keyringID), unsafe.Sizeof(pl.keyringID)},
		{attr, []string{"link_create", "prog_fd"}, unsafe.Offsetof(lc.progFD), unsafe.Sizeof(lc.progFD)},
		{attr, []string{"link_create", "target_fd"}, unsafe.Offsetof(lc.targetFD), unsafe.Sizeof(lc.targetFD)},
		{attr, []string{"link_create", "attach_type"}, unsafe.Offsetof(lc.attachType), unsafe.Sizeof(lc.attachType)},
		{attr, []string{"link_create", "flags"}, unsafe.Offsetof(lc.flags), unsafe.Sizeof(lc.flags)},
		{attr, []string{"link_create", "iter_info"}, unsafe.Offsetof(lc.iterInfo), unsafe.Sizeof(lc.iterInfo)},
		{attr, []string{"link_create", "iter_info_len"}, unsafe.Offsetof(lc.iterInfoLen), unsafe.Sizeof(lc.iterInfoLen)},
		{attr, []string{"link_create"}, 0, unsafe.Sizeof(lc)},
		{info, []string{"task", "tid"}, unsafe.Offsetof(li.tid), unsafe.Sizeof(li.tid)},
		{info, []string{"task", "pid"}, unsafe.Offsetof(li.pid), unsafe.Sizeof(li.pid)},
		{info, []string{"task", "pid_fd"}, unsafe.Offsetof(li.pidFD), unsafe.Sizeof(li.pidFD)},
		{info, nil, 0, unsafe.Sizeof(li)},
		{attr, []string{"iter_create", "link_fd"}, unsafe.Offsetof(ic.linkFD), unsafe.Sizeof(ic.linkFD)},
		{attr, []string{"iter_create", "flags"}, unsafe.Offsetof(ic.flags), unsafe.Sizeof(ic.flags)},
		{attr, []string{"iter_create"}, 0, unsafe.Sizeof(ic)},
	} {
		off, typ, ok := btfPath(t, r, m.union, m.path)
		if !ok {
			t.Logf("this kernel's BTF has no %v: skipped", m.path)
			continue
		}
		assert.Equal(t, m.off, uintptr(off), "offset of %v", m.path)
		assert.Equal(t, m.size, uintptr(btfSize(t, r, typ)), "size of %v", m.path)
	}
}

// btfPath returns the byte offset and type of the member at path (each
// name looked for also inside anonymous members) in struct or union id;
// an empty path is id itself.
func btfPath(t *testing.T, r *btfReader, id uint32, path []string) (off, typ uint32, ok bool) {
	t.Helper()
	typ = id
	for _, name := range path {
		o, mt, found := btfFind(t, r, r.strip(typ, 0), name)
		if !found {
			return 0, 0, false
		}
		off, typ = off+o, mt
	}
	return off, typ, true
}

func btfFind(t *testing.T, r *btfReader, id uint32, name string) (off, typ uint32, ok bool) {
	t.Helper()
	_, info, _, extra, err := r.header(id)
	require.NoError(t, err)
	if k := btfKind(info); k != btfKindStruct && k != btfKindUnion {
		return 0, 0, false
	}
	for i := range btfVlen(info) {
		m := extra[12*i:]
		mName, mType, bits := r.order.Uint32(m), r.order.Uint32(m[4:]), r.order.Uint32(m[8:])
		if info>>31 != 0 {
			bits &= 0xffffff
		}
		if mName == 0 {
			if o, mt, found := btfFind(t, r, r.strip(mType, 0), name); found {
				return bits/8 + o, mt, true
			}
			continue
		}
		if r.nameIs(mName, name) {
			return bits / 8, mType, true
		}
	}
	return 0, 0, false
}

// btfSize returns the size in bytes of a type.
func btfSize(t *testing.T, r *btfReader, id uint32) uint32 {
	t.Helper()
	id = r.strip(id, 0)
	_, info, size, extra, err := r.header(id)
	require.NoError(t, err)
	switch btfKind(info) {
	case btfKindPtr:
		return 8
	case btfKindArray:
		return btfSize(t, r, r.order.Uint32(extra)) * r.order.Uint32(extra[8:])
	}
	return size
}
