package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDocsListEveryFlag: docs/cli.md names every flag flagDefs declares
// (in a code span, as `--name` or `-x`), so that a flag added to the code
// cannot be left out of the manual; and its --top section says which keys
// --top answers to (none besides Ctrl-C: it reads no input, and
// TestTopReadsNoInput would fail if it began to).
func TestDocsListEveryFlag(t *testing.T) {
	b, err := os.ReadFile("../../docs/cli.md")
	require.NoError(t, err)
	doc := string(b)
	named := map[string]bool{} // every word of every code span
	for _, span := range regexp.MustCompile("`([^`\n]+)`").FindAllStringSubmatch(doc, -1) {
		for _, w := range strings.FieldsFunc(span[1], func(r rune) bool { return strings.ContainsRune(" /=,[]|", r) }) {
			named[w] = true
		}
	}
	for i := range flagDefs {
		for _, n := range flagDefs[i].names {
			name := "--" + n
			if len(n) == 1 {
				name = "-" + n
			}
			assert.True(t, named[name], "docs/cli.md does not name %s", name)
		}
	}
	assert.Contains(t, doc, "| Ctrl-C (SIGINT), or SIGTERM | ends it", "the --top key table")
}

// TestTopReadsNoInput: no code of the command reads the keyboard, which
// is what docs/cli.md's --top key table says. Key bindings added to --top
// must be added to that table, and this test changed with it.
func TestTopReadsNoInput(t *testing.T) {
	files, err := os.ReadDir(".")
	require.NoError(t, err)
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		for _, read := range []string{"os.Stdin", "MakeRaw", "ReadConsoleInput"} {
			assert.NotContains(t, string(b), read, "%s reads input: list its keys in docs/cli.md's --top table", f.Name())
		}
	}
}
