package chiptest

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"printstation/chip"
)

// TestCardStatusWords drives the software card with raw APDUs: each step's
// status word is what a real ISO 7816-4 card gives in that situation.
func TestCardStatusWords(t *testing.T) {
	aid := "a000000247100100"
	steps := []struct {
		apdu string
		want string // full response hex
	}{
		{"ffca000000", "04aabbcc9000"},          // UID
		{"ffca010000", "6e00"},                  // other GET DATA: not supported
		{"80a4000c023f00", "6e00"},              // proprietary class
		{"00a4", "6700"},                        // too short
		{"00a4000c05010203", "6700"},            // Lc says 5, 3 bytes follow
		{"00ee0000", "6d00"},                    // unknown INS
		{"00a4080c023f00", "6a86"},              // select by path: not modelled
		{"00a4000c030102", "6700"},              // Lc 3, 2 bytes
		{"00a4000c0201", "6700"},                // truncated data
		{"00b0000010", "6986"},                  // no current EF
		{"00d60000020102", "6986"},              // no current EF
		{"00a4000c020101", "6a82"},              // no such file
		{"00a4040c08" + aid, "9000"},            // application by AID
		{"00a4040c05a000000000", "6a82"},        // unknown AID
		{"00e0000004" + "62038201", "6a80"},     // FCP truncated
		{"00e0000006" + "620483020101", "6a80"}, // no file descriptor
		{"00e00000056203820138", "6a80"},        // a DF: not modelled
		{"00e000000d620b820101830201018002000a", "9000"},
		{"00e000000d620b820101830201018002000a", "6a89"}, // exists
		{"00d600000401020304", "9000"},
		{"00d6000b0101", "6b00"},       // offset past the end
		{"00d600080401020304", "6a84"}, // runs past the end
		{"00d6810001ff", "6a81"},       // short EF id
		{"00b0000004", "010203049000"},
		{"00b0000000", "01020304000000000000" + "6282"}, // Le 256, 10 bytes: end of file
		{"00b0000a01", "6b00"},                          // at the end
		{"00a4000402010100", "620e830201018201018002000a8a0105" + "9000"},
		{"00a400040201010a", "6c10"}, // FCP longer than Le
	}
	c := NewCard(Config{UID: []byte{0x04, 0xAA, 0xBB, 0xCC}, Applications: [][]byte{mustHex(t, aid)}})
	for i, s := range steps {
		got, err := c.Transmit(context.Background(), mustHex(t, s.apdu))
		if err != nil {
			t.Fatalf("step %d %s: %v", i, s.apdu, err)
		}
		if hex.EncodeToString(got) != s.want {
			t.Errorf("step %d %s: got %x, want %s", i, s.apdu, got, s.want)
		}
	}
	// Lock: ACTIVATE FILE, then UPDATE BINARY is refused with 6982.
	for _, s := range []struct{ apdu, want string }{
		{"00440000", "9000"},
		{"00d60000020102", "6982"},
		{"00a4000402010100", "620e830201018201018002000a8a0107" + "9000"},
	} {
		got, _ := c.Transmit(context.Background(), mustHex(t, s.apdu))
		if hex.EncodeToString(got) != s.want {
			t.Errorf("%s: got %x, want %s", s.apdu, got, s.want)
		}
	}
}

func TestExtendedAndChunkLimits(t *testing.T) {
	short := NewCard(Config{})
	got, _ := short.Transmit(context.Background(), mustHex(t, "00b00000000100"))
	if hex.EncodeToString(got) != "6700" {
		t.Errorf("extended APDU on a short card: %x, want 6700", got)
	}
	small := NewCard(Config{MaxChunk: 16})
	data := strings.Repeat("ab", 17)
	got, _ = small.Transmit(context.Background(), mustHex(t, "00d6000011"+data))
	if hex.EncodeToString(got) != "6700" {
		t.Errorf("17 bytes to a 16-byte card: %x, want 6700", got)
	}
	ext := NewCard(Config{Extended: true})
	if _, err := chip.ParseATR(ext.ATR()); err != nil {
		t.Fatal(err)
	}
	if info, _ := chip.ParseATR(ext.ATR()); !info.ExtendedLength {
		t.Error("extended card's ATR does not announce extended length")
	}
	if info, _ := chip.ParseATR(short.ATR()); info.ExtendedLength {
		t.Error("short card's ATR announces extended length")
	}
}

func TestRemovedCard(t *testing.T) {
	r := NewReader()
	c := NewCard(Config{})
	r.Insert(c)
	r.Remove()
	if _, err := c.Transmit(context.Background(), mustHex(t, "00a4000c023f00")); !errors.Is(err, chip.ErrCardRemoved) {
		t.Errorf("err = %v, want ErrCardRemoved", err)
	}
	r.Insert(c)
	if _, err := c.Transmit(context.Background(), mustHex(t, "00a4000c023f00")); err != nil {
		t.Errorf("reinserted: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Transmit(ctx, mustHex(t, "00a4000c023f00")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in       string
		ok       bool
		lc, le   int
		extended bool
	}{
		{in: "00a40000", ok: true, le: -1},
		{in: "00b0000000", ok: true, le: 256},
		{in: "00b0000010", ok: true, le: 16},
		{in: "00d60000020102", ok: true, lc: 2, le: -1},
		{in: "00a4000002010200", ok: true, lc: 2, le: 256},
		{in: "00b00000000000", ok: true, le: 65536, extended: true},
		{in: "00b000000003e8", ok: true, le: 1000, extended: true},
		{in: "00d6000000000301020300", ok: false}, // extended case 3 with one stray byte
		{in: "00d60000000003010203", ok: true, lc: 3, le: -1, extended: true},
		{in: "00d600000000030102030100", ok: true, lc: 3, le: 256, extended: true},
		{in: "00d6000000", ok: true, le: 256}, // short case 2, Le 0 = 256
		{in: "00d60000000000", ok: true, le: 65536, extended: true},
		{in: "00d600", ok: false},
		{in: "00d6000000000001", ok: false}, // extended Lc 0
	}
	for _, tt := range tests {
		c, ok := parseCommand(mustHex(t, tt.in))
		if ok != tt.ok {
			t.Errorf("%s: ok = %v", tt.in, ok)
			continue
		}
		if ok && (len(c.data) != tt.lc || c.le != tt.le || c.extended != tt.extended) {
			t.Errorf("%s: lc %d le %d ext %v", tt.in, len(c.data), c.le, c.extended)
		}
	}
}

func FuzzCard(f *testing.F) {
	for _, s := range []string{"00a4000c023f00", "00e000000d620b820101830201018002000a", "00b0000000", "00d60000020102", "ffca000000", "00b00000000100"} {
		f.Add(mustHex(f, s))
	}
	f.Fuzz(func(t *testing.T, apdu []byte) {
		c := NewCard(Config{UID: []byte{1}, Extended: true})
		for _, setup := range []string{"00e000000d620b820101830201018002000a"} {
			_, _ = c.Transmit(context.Background(), mustHex(t, setup))
		}
		resp, err := c.Transmit(context.Background(), apdu)
		if err != nil || len(resp) < 2 {
			t.Fatalf("card answered %x, %v", resp, err)
		}
	})
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(fmt.Errorf("%q: %w", s, err))
	}
	return b
}
