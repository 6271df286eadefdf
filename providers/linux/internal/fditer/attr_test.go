package fditer

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
)

// member is a field's offset and size as Go lays it out, next to the
// kernel's (include/uapi/linux/bpf.h, Linux 6.18, as pahole prints it for
// union bpf_attr and union bpf_iter_link_info).
type member struct {
	name           string
	off, size      uintptr
	wantOff, wantN uintptr
}

func checkLayout(t *testing.T, typ string, size, wantSize uintptr, members []member) {
	t.Helper()
	assert.Equal(t, wantSize, size, "sizeof %s", typ)
	for _, m := range members {
		assert.Equal(t, m.wantOff, m.off, "offsetof %s.%s", typ, m.name)
		assert.Equal(t, m.wantN, m.size, "sizeof %s.%s", typ, m.name)
	}
}

func TestPtrLayout(t *testing.T) {
	assert.Equal(t, uintptr(8), unsafe.Sizeof(ptr{}), "an __aligned_u64")
	b := []byte{1}
	assert.Equal(t, unsafe.Pointer(&b[0]), ptrTo(b).p)
	assert.Nil(t, ptrTo([]byte(nil)).p)
}

func TestProgLoadAttrLayout(t *testing.T) {
	var a progLoadAttr
	checkLayout(t, "prog_load", unsafe.Sizeof(a), 168, []member{
		{"prog_type", unsafe.Offsetof(a.progType), unsafe.Sizeof(a.progType), 0, 4},
		{"insn_cnt", unsafe.Offsetof(a.insnCnt), unsafe.Sizeof(a.insnCnt), 4, 4},
		{"insns", unsafe.Offsetof(a.insns), unsafe.Sizeof(a.insns), 8, 8},
		{"license", unsafe.Offsetof(a.license), unsafe.Sizeof(a.license), 16, 8},
		{"log_level", unsafe.Offsetof(a.logLevel), unsafe.Sizeof(a.logLevel), 24, 4},
		{"log_size", unsafe.Offsetof(a.logSize), unsafe.Sizeof(a.logSize), 28, 4},
		{"log_buf", unsafe.Offsetof(a.logBuf), unsafe.Sizeof(a.logBuf), 32, 8},
		{"kern_version", unsafe.Offsetof(a.kernVersion), unsafe.Sizeof(a.kernVersion), 40, 4},
		{"prog_flags", unsafe.Offsetof(a.progFlags), unsafe.Sizeof(a.progFlags), 44, 4},
		{"prog_name", unsafe.Offsetof(a.progName), unsafe.Sizeof(a.progName), 48, 16},
		{"prog_ifindex", unsafe.Offsetof(a.progIfindex), unsafe.Sizeof(a.progIfindex), 64, 4},
		{"expected_attach_type", unsafe.Offsetof(a.expectedAttachType), unsafe.Sizeof(a.expectedAttachType), 68, 4},
		{"prog_btf_fd", unsafe.Offsetof(a.progBTFFD), unsafe.Sizeof(a.progBTFFD), 72, 4},
		{"func_info_rec_size", unsafe.Offsetof(a.funcInfoRecSize), unsafe.Sizeof(a.funcInfoRecSize), 76, 4},
		{"func_info", unsafe.Offsetof(a.funcInfo), unsafe.Sizeof(a.funcInfo), 80, 8},
		{"func_info_cnt", unsafe.Offsetof(a.funcInfoCnt), unsafe.Sizeof(a.funcInfoCnt), 88, 4},
		{"line_info_rec_size", unsafe.Offsetof(a.lineInfoRecSize), unsafe.Sizeof(a.lineInfoRecSize), 92, 4},
		{"line_info", unsafe.Offsetof(a.lineInfo), unsafe.Sizeof(a.lineInfo), 96, 8},
		{"line_info_cnt", unsafe.Offsetof(a.lineInfoCnt), unsafe.Sizeof(a.lineInfoCnt), 104, 4},
		{"attach_btf_id", unsafe.Offsetof(a.attachBTFID), unsafe.Sizeof(a.attachBTFID), 108, 4},
		{"attach_btf_obj_fd", unsafe.Offsetof(a.attachBTFObjFD), unsafe.Sizeof(a.attachBTFObjFD), 112, 4},
		{"core_relo_cnt", unsafe.Offsetof(a.coreReloCnt), unsafe.Sizeof(a.coreReloCnt), 116, 4},
		{"fd_array", unsafe.Offsetof(a.fdArray), unsafe.Sizeof(a.fdArray), 120, 8},
		{"core_relos", unsafe.Offsetof(a.coreRelos), unsafe.Sizeof(a.coreRelos), 128, 8},
		{"core_relo_rec_size", unsafe.Offsetof(a.coreReloRecSize), unsafe.Sizeof(a.coreReloRecSize), 136, 4},
		{"log_true_size", unsafe.Offsetof(a.logTrueSize), unsafe.Sizeof(a.logTrueSize), 140, 4},
		{"prog_token_fd", unsafe.Offsetof(a.progTokenFD), unsafe.Sizeof(a.progTokenFD), 144, 4},
		{"fd_array_cnt", unsafe.Offsetof(a.fdArrayCnt), unsafe.Sizeof(a.fdArrayCnt), 148, 4},
		{"signature", unsafe.Offsetof(a.signature), unsafe.Sizeof(a.signature), 152, 8},
		{"signature_size", unsafe.Offsetof(a.signatureSize), unsafe.Sizeof(a.signatureSize), 160, 4},
		{"keyring_id", unsafe.Offsetof(a.keyringID), unsafe.Sizeof(a.keyringID), 164, 4},
	})
}

func TestLinkCreateAttrLayout(t *testing.T) {
	var a linkCreateAttr
	checkLayout(t, "link_create", unsafe.Sizeof(a), 64, []member{
		{"prog_fd", unsafe.Offsetof(a.progFD), unsafe.Sizeof(a.progFD), 0, 4},
		{"target_fd", unsafe.Offsetof(a.targetFD), unsafe.Sizeof(a.targetFD), 4, 4},
		{"attach_type", unsafe.Offsetof(a.attachType), unsafe.Sizeof(a.attachType), 8, 4},
		{"flags", unsafe.Offsetof(a.flags), unsafe.Sizeof(a.flags), 12, 4},
		{"iter_info", unsafe.Offsetof(a.iterInfo), unsafe.Sizeof(a.iterInfo), 16, 8},
		{"iter_info_len", unsafe.Offsetof(a.iterInfoLen), unsafe.Sizeof(a.iterInfoLen), 24, 4},
	})
	var info iterLinkInfo
	checkLayout(t, "bpf_iter_link_info", unsafe.Sizeof(info), 16, []member{
		{"task.tid", unsafe.Offsetof(info.tid), unsafe.Sizeof(info.tid), 0, 4},
		{"task.pid", unsafe.Offsetof(info.pid), unsafe.Sizeof(info.pid), 4, 4},
		{"task.pid_fd", unsafe.Offsetof(info.pidFD), unsafe.Sizeof(info.pidFD), 8, 4},
	})
}

func TestIterCreateAttrLayout(t *testing.T) {
	var a iterCreateAttr
	checkLayout(t, "iter_create", unsafe.Sizeof(a), 8, []member{
		{"link_fd", unsafe.Offsetof(a.linkFD), unsafe.Sizeof(a.linkFD), 0, 4},
		{"flags", unsafe.Offsetof(a.flags), unsafe.Sizeof(a.flags), 4, 4},
	})
}
