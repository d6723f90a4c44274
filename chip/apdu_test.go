package chip

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCommandEncode(t *testing.T) {
	data300 := bytes.Repeat([]byte{0xAB}, 300)
	tests := []struct {
		name     string
		cmd      Command
		extended bool
		want     string // hex prefix check for long ones
		wantLen  int
		err      bool
	}{
		{name: "case 1", cmd: Command{INS: 0x44, Le: -1}, want: "00440000"},
		{name: "case 2 short, Le 256 as 00", cmd: Command{CLA: 0xFF, INS: 0xCA, Le: 256}, want: "ffca000000"},
		{name: "case 2 short, Le 16", cmd: Command{INS: 0xB0, P1: 0x01, P2: 0x02, Le: 16}, want: "00b0010210"},
		{name: "case 3 short select", cmd: Command{INS: 0xA4, P2: 0x0C, Data: []byte{0x3F, 0x00}, Le: -1}, want: "00a4000c023f00"},
		{name: "case 4 short", cmd: Command{INS: 0xA4, P2: 0x04, Data: []byte{0x01, 0x01}, Le: 256}, want: "00a40004020101" + "00"},
		{name: "case 3 extended", cmd: Command{INS: 0xD6, Data: data300, Le: -1}, extended: true, want: "00d60000" + "00012c", wantLen: 4 + 3 + 300},
		{name: "case 2 extended Le 65536", cmd: Command{INS: 0xB0, Le: 65536}, extended: true, want: "00b00000000000"},
		{name: "case 2 extended Le 1000", cmd: Command{INS: 0xB0, Le: 1000}, extended: true, want: "00b000000003e8"},
		{name: "case 4 extended", cmd: Command{INS: 0xA4, Data: data300, Le: 300}, extended: true, want: "00a40000" + "00012c", wantLen: 4 + 3 + 300 + 2},
		{name: "too long without extended", cmd: Command{INS: 0xD6, Data: data300, Le: -1}, err: true},
		{name: "Le 0 invalid", cmd: Command{INS: 0xB0, Le: 0}, err: true},
		{name: "Le too large", cmd: Command{INS: 0xB0, Le: 70000}, extended: true, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cmd.Encode(tt.extended)
			if tt.err {
				if err == nil {
					t.Fatalf("Encode = %x, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, unhex(t, tt.want)) {
				t.Errorf("Encode = %x, want prefix %s", got, tt.want)
			}
			wantLen := tt.wantLen
			if wantLen == 0 {
				wantLen = len(tt.want) / 2
			}
			if len(got) != wantLen {
				t.Errorf("len = %d, want %d", len(got), wantLen)
			}
		})
	}
}

func TestParseResponse(t *testing.T) {
	tests := []struct {
		in   string
		data string
		sw   uint16
		err  bool
	}{
		{in: "9000", sw: 0x9000},
		{in: "0102039000", data: "010203", sw: 0x9000},
		{in: "6a82", sw: 0x6A82},
		{in: "61", err: true},
		{in: "", err: true},
	}
	for _, tt := range tests {
		data, sw, err := ParseResponse(unhex(t, tt.in))
		if tt.err {
			if !errors.Is(err, ErrBadResponse) {
				t.Errorf("%s: err = %v, want ErrBadResponse", tt.in, err)
			}
			continue
		}
		if err != nil || sw != tt.sw || !bytes.Equal(data, unhex(t, tt.data)) {
			t.Errorf("%s: got %x %04X %v", tt.in, data, sw, err)
		}
	}
}

func TestParseATR(t *testing.T) {
	tests := []struct {
		name     string
		atr      string
		hist     string
		extended bool
		err      bool
	}{
		// vicc's iso7816 card: T=1, TA1=13, card capabilities without extended length.
		// Debian vicc 0.8, iso7816 card: TA1, TD1 (T=1), card capabilities
		// without extended length.
		{name: "vicc", atr: "3b951381018073ff01000b", hist: "8073ff0100"},
		{name: "software short", atr: "3b85018073002100d7", hist: "8073002100"},
		{name: "software extended", atr: "3b85018073002140b7", hist: "8073002140", extended: true},
		{name: "category 00 with status", atr: "3b8801" + "0073002140009000", hist: "0073002140009000", extended: true},
		{name: "no historical", atr: "3b00", hist: ""},
		{name: "TA TB TC then TD", atr: "3bf81300008131fe45" + "8073002140010203", hist: "8073002140010203", extended: true},
		{name: "bad TS", atr: "0000", err: true},
		{name: "one byte", atr: "3b", err: true},
		{name: "interface bytes past end", atr: "3b80", err: true},
		{name: "historical past end", atr: "3b05", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := ParseATR(unhex(t, tt.atr))
			if tt.err {
				if err == nil {
					t.Fatalf("ParseATR = %+v, want error", info)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(info.Historical, unhex(t, tt.hist)) || info.ExtendedLength != tt.extended {
				t.Errorf("got hist %x ext %v, want %s %v", info.Historical, info.ExtendedLength, tt.hist, tt.extended)
			}
		})
	}
}

func TestFileSize(t *testing.T) {
	tests := []struct {
		name string
		fcp  string
		size int
		ok   bool
		err  bool
	}{
		{name: "tag 80", fcp: "620b" + "8302010182010180020400", size: 1024, ok: true},
		{name: "tag 81 only", fcp: "6204" + "81020010", size: 16, ok: true},
		{name: "80 wins over 81", fcp: "6208" + "8102001080020020", size: 32, ok: true},
		{name: "no size", fcp: "6204" + "83020101"},
		{name: "long form length", fcp: "628104" + "80020005", size: 5, ok: true},
		{name: "multi-byte tag skipped", fcp: "6207" + "9f01010080020003", err: true},
		{name: "multi-byte tag then size", fcp: "6209" + "9f0101008002000300", size: 3, ok: true},
		{name: "wrong template", fcp: "6f00", ok: false},
		{name: "not a template", fcp: "8400", err: true},
		{name: "truncated", fcp: "620a8302", err: true},
		{name: "size too wide", fcp: "6207" + "80050000000001", err: true},
		{name: "empty", fcp: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size, ok, err := FileSize(unhex(t, tt.fcp))
			if tt.err {
				if err == nil {
					t.Fatalf("FileSize = %d %v, want error", size, ok)
				}
				if !errors.Is(err, ErrBadResponse) {
					t.Errorf("err = %v, want ErrBadResponse", err)
				}
				return
			}
			if err != nil || size != tt.size || ok != tt.ok {
				t.Errorf("FileSize = %d %v %v, want %d %v", size, ok, err, tt.size, tt.ok)
			}
		})
	}
}

func TestSWErrorKinds(t *testing.T) {
	w := &SWError{Op: opUpdate, FID: 0x0101, SW: SWSecurity}
	if !errors.Is(w, ErrWriteRefused) || errors.Is(w, ErrCardRefused) {
		t.Errorf("UPDATE BINARY error should be a write refusal: %v", w)
	}
	r := &SWError{Op: opRead, FID: 0x0101, SW: SWSecurity}
	if errors.Is(r, ErrWriteRefused) || !errors.Is(r, ErrCardRefused) {
		t.Errorf("READ BINARY error should not be a write refusal: %v", r)
	}
	for _, want := range []string{"0101", "6982", "security status not satisfied"} {
		if !bytes.Contains([]byte(w.Error()), []byte(want)) {
			t.Errorf("%q does not name %q", w.Error(), want)
		}
	}
}

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{"9000", "0102039000", "61", "", "6c10"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		data, sw, err := ParseResponse(b)
		if err != nil {
			return
		}
		if len(data)+2 != len(b) || byte(sw>>8) != b[len(b)-2] {
			t.Fatalf("ParseResponse(%x) = %x %04X", b, data, sw)
		}
	})
}

func FuzzParseATR(f *testing.F) {
	for _, s := range []string{"3b85018073002140b7", "3b9f13810131fe4d806f7a8e93f3e3ad01ba6c8c9d", "3bf81300008131fe458073002140010203", "3b880100730021400000900000", "3bff", "3b80"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseATR(b)
		if err == nil && len(info.Historical) > len(b) {
			t.Fatalf("historical bytes longer than the ATR")
		}
	})
}

func FuzzFileSize(f *testing.F) {
	for _, s := range []string{"620b8302010182010180020400", "628104" + "80020005", "62079f01010080020003", "6204810200"} {
		b, _ := hex.DecodeString(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		size, ok, err := FileSize(b)
		if err == nil && ok && size < 0 {
			t.Fatalf("negative size %d", size)
		}
	})
}
