package linux

import "encoding/binary"

// buildDiagLookup returns a sock_diag request for the one TCP socket of
// r's family with r's address pair and bound device, in any of the kernel
// states of the states bitmask (NLM_F_REQUEST without NLM_F_DUMP: the
// kernel answers with that socket's inet_diag_msg or with ENOENT).
func buildDiagLookup(dst []byte, r *diagRow, states, seq uint32) []byte {
	b := buildDiagRequest(dst, r.Family, states, 0, seq)
	binary.NativeEndian.PutUint16(b[6:], nlmFRequest)
	id := b[nlmsgHdrLen+8:] // inet_diag_sockid
	binary.BigEndian.PutUint16(id[0:], r.SPort)
	binary.BigEndian.PutUint16(id[2:], r.DPort)
	copy(id[4:20], r.Src[:])
	copy(id[20:36], r.Dst[:])
	binary.NativeEndian.PutUint32(id[36:], r.IfIndex)
	return b
}
