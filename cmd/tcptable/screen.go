package main

import (
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"
)

// screen is where --top draws: a terminal, redrawn in place, or any other
// writer, written to in blocks.
type screen struct {
	w       io.Writer
	tty     bool
	dims    func() (width, height int, ok bool)
	restore func() // undoes enter's console mode change
}

// The ANSI (ECMA-48 / xterm) sequences --top uses on a terminal.
const (
	ansiEnter = "\x1b[?1049h\x1b[?25l" // alternate screen, hide the cursor
	ansiLeave = "\x1b[?25h\x1b[?1049l" // show the cursor, main screen back
	ansiHome  = "\x1b[H"               // cursor to the top left
	ansiEOL   = "\x1b[K"               // clear to the end of the line
	ansiEOS   = "\x1b[J"               // clear to the end of the screen
)

// Size of a terminal that does not say, and of the plain blocks' geometry.
const defaultWidth, defaultHeight = 80, 24

// newScreen returns the screen for w: a terminal when dims (nil: none)
// reports one.
func newScreen(w io.Writer, dims func() (int, int, bool)) *screen {
	s := &screen{w: w, dims: dims}
	if dims != nil {
		_, _, s.tty = dims()
	}
	return s
}

// size returns the terminal's size now (it may have been resized since the
// last frame).
func (s *screen) size() (width, height int) {
	if w, h, ok := s.dims(); ok && w > 0 && h > 0 {
		return w, h
	}
	return defaultWidth, defaultHeight
}

// enter switches to the alternate screen, as full-screen programs do, so
// that the user's scrollback is left as it was (on Windows, after turning
// on the console's ANSI processing).
func (s *screen) enter() {
	s.restore = enableVT()
	_, _ = io.WriteString(s.w, ansiEnter)
}

// leave restores the terminal: the cursor, the main screen and the
// console mode.
func (s *screen) leave() {
	_, _ = io.WriteString(s.w, ansiLeave)
	if s.restore != nil {
		s.restore()
	}
}

// draw replaces the screen's content with lines (which must fit), in one
// write: home, each line cleared to its end, the rest of the screen
// cleared. Nothing is erased before it is overwritten, so nothing flickers.
func (s *screen) draw(lines []string) error {
	var b strings.Builder
	b.WriteString(ansiHome)
	for i, l := range lines {
		if i > 0 {
			b.WriteString("\r\n")
		}
		b.WriteString(l)
		b.WriteString(ansiEOL)
	}
	b.WriteString(ansiEOS)
	_, err := io.WriteString(s.w, b.String())
	return err
}

// stdoutTerminal reports the size of the terminal on standard output, and
// false when standard output is not a terminal (a pipe, a file).
func stdoutTerminal() (width, height int, ok bool) {
	fd := int(os.Stdout.Fd())
	if !term.IsTerminal(fd) {
		return 0, 0, false
	}
	w, h, err := term.GetSize(fd)
	if err != nil {
		return defaultWidth, defaultHeight, true
	}
	return w, h, true
}

// align lays tab-separated lines out in columns two spaces apart.
func align(lines []string) []string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 8, 2, ' ', 0)
	for _, l := range lines {
		_, _ = io.WriteString(tw, l+"\n")
	}
	_ = tw.Flush()
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}
