package main

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable returns s as it may reach a terminal. Text that is valid UTF-8
// made of printable characters only (unicode.IsPrint: letters, marks,
// numbers, punctuation, symbols and the ASCII space) is returned as it is;
// anything else is Go-quoted: control characters and escape sequences
// ("evil\x1b[2J", "a\r\nb"), bidi overrides and other invisible format
// characters ("\u202e"), and invalid bytes ("\xff"). Text that starts with
// a double quote is quoted too, so that a quoted cell always means an
// escaped name. Process names, paths, zones and host names come from the
// OS or the network and pass through here before they are shown.
func printable(s string) string {
	if isPlain(s) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// isPlain reports whether s is valid UTF-8 made of printable characters.
func isPlain(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
			return false // an invalid byte
		}
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// csvCell returns s as a CSV cell: escaped as printable does, and, when a
// spreadsheet would take it for a formula (it starts with =, +, - or @),
// preceded by an apostrophe, as OWASP advises against CSV injection. (A
// cell starting with a tab or carriage return, OWASP's other triggers, is
// quoted by printable.) No cell of a number, address, time or name of a
// state or status starts with any of these, so only text the OS hands
// over (process names, paths, services, containers, namespace names) can
// change.
func csvCell(s string) string {
	s = printable(s)
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}
