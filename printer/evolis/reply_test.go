package evolis

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"printstation/printer"
)

func TestParseReply(t *testing.T) {
	for _, tc := range []struct {
		in   string
		text string
		kind printer.Kind
		err  bool
	}{
		{in: "OK", text: "OK"},
		{in: "  1234 ", text: "1234"},
		{in: "Evolis Primacy", text: "Evolis Primacy"},
		{in: "4,98", text: "4,98"},
		{in: "ERROR CDE", kind: printer.KindRefused, err: true},
		{in: "ERROR PARAMETRES", kind: printer.KindRefused, err: true},
		{in: "OPT NOT AVAILABLE", kind: printer.KindRefused, err: true},
		{in: "NEED CLEANING", kind: printer.KindNeedsCleaning, err: true},
		{in: "ERR NEED CLEANING", kind: printer.KindNeedsCleaning, err: true},
		{in: "ERROR TIME OUT", kind: printer.KindTimeout, err: true},
		{in: "ERROR HOPPER", kind: printer.KindOutputFull, err: true},
		{in: "HOPPER FULL", kind: printer.KindOutputFull, err: true},
		{in: "COVER OPEN", kind: printer.KindCoverOpen, err: true},
		{in: "cover open", kind: printer.KindCoverOpen, err: true},
		{in: "FEEDER EMPTY", kind: printer.KindFeederEmpty, err: true},
		{in: "CARD JAM", kind: printer.KindJam, err: true},
		{in: "ERROR RIBBON", kind: printer.KindRibbonOut, err: true},
		{in: "ERROR RIBBON TYPE", kind: printer.KindRibbonMismatch, err: true},
		{in: "ERROR HEAD", kind: printer.KindHead, err: true},
		{in: "REJECT BOX FULL", kind: printer.KindRejectFull, err: true},
		{in: "PRINTER BUSY", kind: printer.KindBusy, err: true},
		{in: "ERR SOMETHING NEW", kind: printer.KindOther, err: true},
		{in: "O\x8fK", kind: printer.KindProtocol, err: true},
		{in: "\x01\x02", kind: printer.KindProtocol, err: true},
	} {
		text, rerr := parseReply([]byte(tc.in))
		if (rerr != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.in, rerr, tc.err)
			continue
		}
		if rerr != nil && rerr.kind != tc.kind {
			t.Errorf("%q: kind %v, want %v", tc.in, rerr.kind, tc.kind)
		}
		if !tc.err && text != tc.text {
			t.Errorf("%q: text %q, want %q", tc.in, text, tc.text)
		}
	}
}

// chunkConn replays bytes in the given pieces.
type chunkConn struct {
	pieces [][]byte
}

func (c *chunkConn) Read(ctx context.Context, p []byte) (int, error) {
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	if len(c.pieces[0]) == 0 {
		c.pieces = c.pieces[1:]
	}
	return n, nil
}
func (c *chunkConn) Write(ctx context.Context, p []byte) (int, error) { return len(p), nil }
func (c *chunkConn) Close() error                                     { return nil }

func TestReplyTerminatorsAndPieces(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
		want   []string
	}{
		{"cr", []string{"OK\r", "12\r"}, []string{"OK", "12"}},
		{"lf", []string{"OK\n12\n"}, []string{"OK", "12"}},
		{"nul", []string{"OK\x00", "12\x00"}, []string{"OK", "12"}},
		{"crlf", []string{"OK\r\n12\r\n"}, []string{"OK", "12"}},
		{"pieces", []string{"O", "K", "\r", "1", "2\x00\x00"}, []string{"OK", "12"}},
		{"split word", []string{"CARD ", "JAM\r"}, []string{"CARD JAM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &chunkConn{}
			for _, p := range tc.pieces {
				c.pieces = append(c.pieces, []byte(p))
			}
			var rr replyReader
			for _, want := range tc.want {
				got, err := rr.next(context.Background(), c)
				if err != nil || string(got) != want {
					t.Fatalf("got %q, %v; want %q", got, err, want)
				}
			}
			if _, err := rr.next(context.Background(), c); !errors.Is(err, io.EOF) {
				t.Errorf("after the replies: %v, want EOF", err)
			}
		})
	}
}

func TestReplyTooLong(t *testing.T) {
	c := &chunkConn{pieces: [][]byte{make([]byte, 3000)}}
	for i := range c.pieces[0] {
		c.pieces[0][i] = 'A'
	}
	var rr replyReader
	if _, err := rr.next(context.Background(), c); !errors.Is(err, printer.ErrProtocol) {
		t.Errorf("endless reply: %v, want ErrProtocol", err)
	}
}

func TestParseVolts(t *testing.T) {
	for in, want := range map[string]float64{
		"5,00 Volts": 5, "0,00 Volts": 0, "4,9 Volts": 4.9, "0,24 volts": 0.24, // QEvolisPrinter's records
		"4,98": 4.98, "0,02": 0.02, "5": 5, " 3.3 V": 3.3, "2,51V": 2.51, "1,20 Volt": 1.2,
	} {
		if v, err := parseVolts(in); err != nil || v != want {
			t.Errorf("parseVolts(%q) = %v, %v", in, v, err)
		}
	}
	for _, in := range []string{"", "x", "1,2,3", "NaN", "1e9", "Volts", "5,00 Amps", "5,00 Volts!", ",5", "5,", "5 5 V", "0x10"} {
		if _, err := parseVolts(in); err == nil {
			t.Errorf("parseVolts(%q) accepted", in)
		}
	}
}

// FuzzReply feeds arbitrary printer output, cut at an arbitrary point,
// through the reply reader and parser: no panic, and every reply that is
// accepted as text is printable and has no terminator inside.
func FuzzReply(f *testing.F) {
	f.Add([]byte("OK\r"), uint8(1))
	f.Add([]byte("CARD JAM\x00\r\n4,98\n"), uint8(3))
	f.Add([]byte("\x8f\xfe\x02O\x9bK\x7f\r"), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		c := &chunkConn{}
		k := int(cut)
		if k > len(data) {
			k = len(data)
		}
		c.pieces = [][]byte{data[:k], data[k:]}
		var rr replyReader
		for i := 0; i < 100; i++ {
			line, err := rr.next(context.Background(), c)
			if err != nil {
				return
			}
			text, rerr := parseReply(line)
			if rerr != nil {
				if rerr.Error() == "" {
					t.Fatalf("empty error text for %q", line)
				}
				continue
			}
			for _, b := range []byte(text) {
				if b < 0x20 || b > 0x7e {
					t.Fatalf("accepted %q with byte %#x", text, b)
				}
			}
		}
	})
}

// Every kind of command accepts exactly what the sources show as its
// success reply; anything else is an error that says what arrived.
func TestExpectations(t *testing.T) {
	for _, tc := range []struct {
		name string
		want expect
		in   string
		ok   bool
	}{
		{"OK", wantOK, "OK", true},
		{"ok lower case", wantOK, "ok", true},
		{"unknown word", wantOK, "HOPPER DOOR", false},
		{"a value for a command", wantOK, "1234", false},
		{"empty", wantOK, "", false},
		{"text", wantText, "Evolis Primacy", true},
		{"empty text", wantText, "", false},
		{"count", wantCount, "12345", true},
		{"negative count", wantCount, "-1", false},
		{"count with words", wantCount, "12 cards", false},
		{"volts", wantVolts, "5,00 Volts", true},
		{"volts garbage", wantVolts, "OPEN", false},
		{"presence OK", presenceReply, "OK", true},
		{"presence NO CARD", presenceReply, "NO CARD", true},
		{"presence CARD", presenceReply, "CARD", true},
		{"presence SMART CARD", presenceReply, "SMART CARD", true},
		{"presence CONTACTLESS CARD", presenceReply, "CONTACTLESS CARD", true},
		{"presence other", presenceReply, "HOPPER DOOR", false},
	} {
		err := tc.want(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %q → %v, want ok=%v", tc.name, tc.in, err, tc.ok)
		}
		if err != nil && tc.in != "" && !strings.Contains(err.Error(), tc.in) {
			t.Errorf("%s: error %q does not say what arrived", tc.name, err)
		}
	}
}

// quietConn answers with reply and then nothing: the next Read waits for
// its deadline, as a USB link does when the printer sent no terminator.
type quietConn struct{ reply []byte }

func (c *quietConn) Read(ctx context.Context, p []byte) (int, error) {
	if len(c.reply) > 0 {
		n := copy(p, c.reply)
		c.reply = c.reply[n:]
		return n, nil
	}
	<-ctx.Done()
	return 0, printer.Link(printer.KindTimeout, "no answer in time")
}
func (c *quietConn) Write(ctx context.Context, p []byte) (int, error) { return len(p), nil }
func (c *quietConn) Close() error                                     { return nil }

// A reply with no terminator at all is complete once the line goes quiet;
// silence with nothing received is still a timeout.
func TestReplyWithoutTerminator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rr replyReader
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got, err := rr.next(ctx, &quietConn{reply: []byte("5,00 Volts")})
		if err != nil || string(got) != "5,00 Volts" {
			t.Errorf("got %q, %v; want the reply once the line is quiet", got, err)
		}
		_, err = rr.next(ctx, &quietConn{})
		if !errors.Is(err, printer.ErrTimeout) {
			t.Errorf("nothing at all: %v, want a timeout", err)
		}
	})
}

// scriptConn answers each command from a table, as a printer would, with
// NUL-ended replies; unknown commands get ERROR CDE.
type scriptConn struct {
	answers map[string]string
	out     []byte
}

func (c *scriptConn) Write(ctx context.Context, p []byte) (int, error) {
	cmd := strings.TrimSuffix(strings.TrimPrefix(string(p), "\x1b"), "\r")
	a, ok := c.answers[cmd]
	if !ok {
		a = "ERROR CDE"
	}
	c.out = append(c.out, a...)
	c.out = append(c.out, 0)
	return len(p), nil
}
func (c *scriptConn) Read(ctx context.Context, p []byte) (int, error) {
	if len(c.out) == 0 {
		<-ctx.Done()
		return 0, printer.Link(printer.KindTimeout, "no answer in time")
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}
func (c *scriptConn) Close() error { return nil }

// Status on a printer answering as the sources show: sensor voltages with
// units, OK for no card, Rlr;r echoing Rcr's ribbon error.
func TestStatusReplyForms(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers map[string]string
		check   func(printer.Status) bool
		errKind printer.Kind
	}{
		{"ready", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "5,00 Volts", "Rse;f": "5,00 Volts", "Rcr": "OK", "Rlr;r": "OK"},
			func(s printer.Status) bool { return s.Ready && s.Card == printer.PositionNone }, 0},
		{"feeder empty, guide's NO CARD", map[string]string{"Pem;2": "OK", "Rlr;p": "NO CARD", "Rse;o": "5,00 Volts", "Rse;f": "0,00 Volts", "Rcr": "OK", "Rlr;r": "OK"},
			func(s printer.Status) bool { return !s.Ready && s.FeederEmpty }, 0},
		{"no feeder sensor", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "5,00 Volts", "Rcr": "OK", "Rlr;r": "OK"},
			func(s printer.Status) bool { return s.Ready && !s.FeederEmpty }, 0},
		{"ribbon end echoed by Rlr;r", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "5,00 Volts", "Rse;f": "5,00 Volts", "Rcr": "ERROR RIBBON", "Rlr;r": "ERROR RIBBON"},
			func(s printer.Status) bool { return s.RibbonOut && !s.NeedsCleaning && !s.Ready }, 0},
		{"cleaning due", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "5,00 Volts", "Rse;f": "5,00 Volts", "Rcr": "OK", "Rlr;r": "ERR NEED CLEANING"},
			func(s printer.Status) bool { return s.NeedsCleaning && !s.Ready }, 0},
		{"cover sensor in an unknown form", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "HIGH", "Rse;f": "5,00 Volts", "Rcr": "OK", "Rlr;r": "OK"},
			nil, printer.KindProtocol},
		{"unknown word for the ribbon", map[string]string{"Pem;2": "OK", "Rlr;p": "OK", "Rse;o": "5,00 Volts", "Rse;f": "5,00 Volts", "Rcr": "HOPPER DOOR", "Rlr;r": "OK"},
			nil, printer.KindProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dial := func(ctx context.Context) (printer.Conn, error) { return &scriptConn{answers: tc.answers}, nil }
			d, err := Open(context.Background(), "script", dial, printer.Options{Name: "p1", Timeouts: printer.Timeouts{Read: 50 * time.Millisecond}})
			if err != nil {
				t.Fatal(err)
			}
			st, err := d.Status(context.Background())
			if tc.check != nil {
				if err != nil || !tc.check(st) {
					t.Errorf("status %+v, %v", st, err)
				}
				return
			}
			if printer.KindOf(err) != tc.errKind {
				t.Errorf("error %v, want kind %v", err, tc.errKind)
			}
		})
	}
}
