package linux

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFitBuf(t *testing.T) {
	p := &Provider{}
	p.fams[0].last, p.fams[1].last = 100, 50
	fams := []uint8{afInet, afInet6}

	caps := []int{130, 72}
	assert.Equal(t, 202, p.fitBuf(fams, caps, 0, 202), "no buffer: the hints stand")
	assert.Equal(t, []int{130, 72}, caps)
	assert.Equal(t, 202, p.fitBuf(fams, caps, 149, 202), "too small for the previous answer")
	assert.Equal(t, []int{130, 72}, caps)

	assert.Equal(t, 160, p.fitBuf(fams, caps, 160, 202), "the previous answer and the spare share the buffer")
	assert.Equal(t, []int{105, 55}, caps)
}
