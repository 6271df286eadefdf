package option

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/tcptable/tcptable"
)

type config struct{ a, b int }

type opt func(*config) error

func TestApply(t *testing.T) {
	var c config
	setA := func(v int) opt { return func(c *config) error { c.a = v; return nil } }
	assert.NoError(t, Apply[config, opt](&c, nil))
	assert.NoError(t, Apply(&c, []opt{setA(1), nil, func(c *config) error { c.b = c.a + 1; return nil }}))
	assert.Equal(t, config{1, 2}, c, "in order, nil skipped")

	boom := errors.New("boom")
	err := Apply(&c, []opt{setA(5), func(*config) error { return boom }, setA(7)})
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 5, c.a, "options after a failing one are not applied")
}

func TestInvalid(t *testing.T) {
	err := Invalid("WithWorkers(-1)", "need at least 1")
	assert.ErrorIs(t, err, tcptable.ErrInvalid)
	assert.EqualError(t, err, "invalid input: WithWorkers(-1): need at least 1")
}
