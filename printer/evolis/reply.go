package evolis

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"printstation/printer"
)

// maxReply bounds one reply; printers answer in a few words.
const maxReply = 1024

// isTerm reports whether b ends a reply. The guide does not fix a
// terminator for USB, and printers differ, so CR, LF and NUL all count.
func isTerm(b byte) bool { return b == '\r' || b == '\n' || b == 0 }

// replyReader collects reply bytes that arrive in pieces.
type replyReader struct {
	buf []byte
	tmp [512]byte
}

// next returns the next non-empty reply line, without its terminator.
func (r *replyReader) next(ctx context.Context, c printer.Conn) ([]byte, error) {
	for {
		// drop terminators left over from a previous reply (CR LF, trailing NULs)
		i := 0
		for i < len(r.buf) && isTerm(r.buf[i]) {
			i++
		}
		r.buf = r.buf[i:]
		if j := bytes.IndexFunc(r.buf, func(c rune) bool { return c == '\r' || c == '\n' || c == 0 }); j >= 0 {
			line := append([]byte(nil), r.buf[:j]...)
			r.buf = r.buf[j+1:]
			return line, nil
		}
		if len(r.buf) > maxReply {
			n := len(r.buf)
			r.buf = nil
			return nil, fmt.Errorf("reply longer than %d bytes with no end (%d bytes): %w", maxReply, n, printer.ErrProtocol)
		}
		n, err := c.Read(ctx, r.tmp[:])
		r.buf = append(r.buf, r.tmp[:n]...)
		if err != nil && n == 0 {
			return nil, err
		}
	}
}

func (r *replyReader) reset() { r.buf = nil }

// errorWords maps the printer's error replies to what they mean. Matching
// is on the whole reply, upper-cased, spaces trimmed.
var errorWords = map[string]printer.Kind{
	"ERROR CDE":         printer.KindRefused,
	"ERROR PARAMETRES":  printer.KindRefused,
	"ERROR PARAMETERS":  printer.KindRefused,
	"OPT NOT AVAILABLE": printer.KindRefused,
	"NEED CLEANING":     printer.KindNeedsCleaning,
	"ERR NEED CLEANING": printer.KindNeedsCleaning,
	"ERROR TIME OUT":    printer.KindTimeout,
	"ERROR HOPPER":      printer.KindOutputFull,
	"HOPPER FULL":       printer.KindOutputFull,
	"COVER OPEN":        printer.KindCoverOpen,
	"ERROR COVER":       printer.KindCoverOpen,
	"FEEDER EMPTY":      printer.KindFeederEmpty,
	"ERROR FEEDER":      printer.KindFeederEmpty,
	"CARD JAM":          printer.KindJam,
	"ERROR JAM":         printer.KindJam,
	"ERROR MECHANICAL":  printer.KindJam,
	"ERROR RIBBON":      printer.KindRibbonOut,
	"RIBBON END":        printer.KindRibbonOut,
	"ERROR RIBBON TYPE": printer.KindRibbonMismatch,
	"BAD RIBBON":        printer.KindRibbonMismatch,
	"ERROR HEAD":        printer.KindHead,
	"REJECT BOX FULL":   printer.KindRejectFull,
	"ERROR REJECT":      printer.KindRejectFull,
	"PRINTER BUSY":      printer.KindBusy,
	"BUSY":              printer.KindBusy,
}

// replyError is a reply that is an error word (or garbage).
type replyError struct {
	kind printer.Kind
	text string
}

func (e *replyError) Error() string { return e.text }

// parseReply turns one reply line into its text, or a replyError when the
// printer reported a problem or the bytes are not a reply at all.
func parseReply(line []byte) (string, *replyError) {
	for _, b := range line {
		if (b < 0x20 && b != '\t') || b > 0x7e {
			return "", &replyError{kind: printer.KindProtocol, text: fmt.Sprintf("garbled reply: %d bytes, %q", len(line), clip(line))}
		}
	}
	text := strings.TrimSpace(string(line))
	key := strings.ToUpper(text)
	if k, ok := errorWords[key]; ok {
		return text, &replyError{kind: k, text: text}
	}
	if strings.HasPrefix(key, "ERR") {
		return text, &replyError{kind: printer.KindOther, text: text}
	}
	return text, nil
}

func clip(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}
