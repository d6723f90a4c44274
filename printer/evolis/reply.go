package evolis

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"printstation/printer"
)

// maxReply bounds one reply; printers answer in a few words.
const maxReply = 1024

// quietGap: a reply that has started and then stays quiet this long is
// complete even without a terminator. The open-source Perl driver
// (dpavlin/Printer-EVOLIS, lib/Printer/EVOLIS/Parallel.pm) reads until a
// NUL or until the port has nothing more; some printers end a reply with
// nothing at all.
const quietGap = 300 * time.Millisecond

// isTerm reports whether b ends a reply. The guide does not fix a
// terminator for USB, and printers differ: CR (the command framing, guide
// §3), NUL (the Perl driver's reads) and LF all count.
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
		rctx, cancel := ctx, context.CancelFunc(func() {})
		if len(r.buf) > 0 {
			rctx, cancel = context.WithTimeout(ctx, quietGap)
		}
		n, err := c.Read(rctx, r.tmp[:])
		cancel()
		r.buf = append(r.buf, r.tmp[:n]...)
		if err != nil && n == 0 {
			if len(r.buf) > 0 && ctx.Err() == nil && (errors.Is(err, printer.ErrTimeout) || errors.Is(err, context.DeadlineExceeded)) {
				// started, then quiet: the reply had no terminator
				line := r.buf
				r.buf = nil
				return line, nil
			}
			return nil, err
		}
	}
}

func (r *replyReader) reset() { r.buf = nil }

// errorWords maps the printer's error replies to what they mean. Matching
// is on the whole reply, upper-cased, spaces trimmed. Sources
// (docs/printer/evolis.md, "Replies"): the guide (A5013 rev. E) names
// "ERR CARD" and "ERR NEED CLEANING" (Rlr, page 34) and the NACK codes of
// §5 (command, parameter, time-out/mechanical, cover, feeder, ribbon); the
// other words are the project's protocol notes (PRINTER-PROTOCOL.md) and the
// simulator. A reply that is none of these and not what the command expects
// is an error too (see expect), so a new word can never pass as success.
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

// replyError is a reply that is an error word, garbage, or not what the
// command expects.
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

// expect says what a command's successful reply looks like. It returns an
// error describing what arrived when the reply is anything else.
type expect func(text string) error

// wantOK: settings, movements and downloads succeed with exactly "OK"
// (guide Rcr page 32, integrators' code: QEvolisPrinter, esup-sgc-client).
func wantOK(text string) error {
	if strings.EqualFold(text, "OK") {
		return nil
	}
	return fmt.Errorf("unexpected reply %q (a printer answers OK when it has done it)", clip([]byte(text)))
}

// wantText: reads of names and versions take any printable text that is
// not an error word (parseReply has taken those out already).
func wantText(text string) error {
	if text == "" {
		return fmt.Errorf("empty reply")
	}
	return nil
}

// wantCount: counters are whole numbers.
func wantCount(text string) error {
	if v, err := strconv.ParseInt(text, 10, 64); err != nil || v < 0 {
		return fmt.Errorf("counter reply %q is not a count", clip([]byte(text)))
	}
	return nil
}

// wantVolts: sensor readings (parseVolts).
func wantVolts(text string) error {
	_, err := parseVolts(text)
	return err
}

// presenceWords are Rlr;p's answers: "NO CARD" / "ERR CARD" (guide page
// 34); "OK" / "CARD" / "SMART CARD" / "CONTACTLESS CARD" (QEvolisPrinter's
// notes of a printer driven through the vendor library).
var presenceWords = map[string]bool{"OK": true, "NO CARD": true, "CARD": true, "ERR CARD": true, "SMART CARD": true, "CONTACTLESS CARD": true}

func clip(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}
