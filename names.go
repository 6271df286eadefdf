package tcptable

import "strconv"

// nameOf returns names[v], or "Type(N)" where v has no name: the String
// method of every small enum in this package.
func nameOf(names []string, typ string, v uint8) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

// parseName finds text in names (by index) or accepts the "Type(N)" form
// that String uses for unnamed values.
func parseName(names []string, typ, text string) (uint8, error) {
	for i, n := range names {
		if n == text {
			return uint8(i), nil
		}
	}
	if inner, ok := cutWrapped(text, typ+"(", ")"); ok {
		if n, err := strconv.ParseUint(inner, 10, 8); err == nil {
			return uint8(n), nil
		}
	}
	return 0, &ParseError{Type: typ, Input: text}
}
