package tcptable

import (
	"errors"
	"strconv"
	"strings"
)

// ErrInvalid is wrapped by every error that reports malformed input: a name
// that is not a state, status or source, a bad snapshot.
var ErrInvalid = errors.New("invalid input")

// ParseError reports text that does not name a value of Type. It wraps
// ErrInvalid.
type ParseError struct {
	Type  string // the type being parsed, e.g. "OwnerStatus"
	Input string // the offending text, as given
}

func (e *ParseError) Error() string {
	return "tcptable: " + strconv.Quote(e.Input) + " is not a valid " + e.Type
}

// Unwrap returns ErrInvalid.
func (e *ParseError) Unwrap() error { return ErrInvalid }

// cutWrapped returns s without prefix and suffix if it has both.
func cutWrapped(s, prefix, suffix string) (string, bool) {
	if !strings.HasPrefix(s, prefix) || !strings.HasSuffix(s, suffix) || len(s) < len(prefix)+len(suffix) {
		return "", false
	}
	return s[len(prefix) : len(s)-len(suffix)], true
}
