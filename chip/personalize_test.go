package chip_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"printstation/chip"
	"printstation/chip/chiptest"
)

// profile8K is chiptest.Profile8K: 8 KiB over four files.
func profile8K() chip.Personalization { return chiptest.Profile8K() }

func personalize(t *testing.T, card *chiptest.Card, p chip.Personalization, opts ...chip.Options) (chip.Result, error) {
	t.Helper()
	r := chiptest.NewReader()
	r.Insert(card)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	return r.Encoder(opts...).Personalize(ctx, p)
}

func TestPersonalizeWritesEveryFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  chiptest.Config
	}{
		{"short APDUs", chiptest.Config{UID: []byte{1, 2, 3, 4}}},
		{"extended APDUs", chiptest.Config{UID: []byte{1, 2, 3, 4}, Extended: true}},
		{"card takes only 100 bytes a chunk", chiptest.Config{UID: []byte{1, 2, 3, 4}, MaxChunk: 100}},
		{"extended card with 1000-byte limit", chiptest.Config{UID: []byte{1, 2, 3, 4}, Extended: true, MaxChunk: 1000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			card := chiptest.NewCard(tc.cfg)
			p := profile8K()
			res, err := personalize(t, card, p)
			if err != nil {
				t.Fatalf("Personalize: %v", err)
			}
			if !bytes.Equal(res.UID, []byte{1, 2, 3, 4}) || res.UIDString() != "01020304" {
				t.Errorf("UID = %x (%s)", res.UID, res.UIDString())
			}
			if !bytes.Equal(res.ATR, card.ATR()) {
				t.Errorf("ATR = %x, want %x", res.ATR, card.ATR())
			}
			for _, f := range p.Files {
				got, ok := card.File(f.FID)
				if !ok || !bytes.Equal(got, f.Data) {
					t.Errorf("file %04X on the card: %d bytes, ok=%v; want the job's %d bytes", f.FID, len(got), ok, len(f.Data))
				}
				if card.Locked(f.FID) {
					t.Errorf("file %04X locked without Lock", f.FID)
				}
			}
			if res.APDUs != len(card.Received()) {
				t.Errorf("Result.APDUs = %d, card received %d", res.APDUs, len(card.Received()))
			}
		})
	}
}

func TestChunkSizeFollowsTheCard(t *testing.T) {
	short := chiptest.NewCard(chiptest.Config{})
	ext := chiptest.NewCard(chiptest.Config{Extended: true})
	small := chiptest.NewCard(chiptest.Config{MaxChunk: 64})
	var n [3]int
	for i, c := range []*chiptest.Card{short, ext, small} {
		if _, err := personalize(t, c, profile8K()); err != nil {
			t.Fatal(err)
		}
		n[i] = c.Writes()
	}
	// 8192 bytes: 17+9+6+3 = 35 chunks of ≤255 over these four files, 4 with extended
	// length (one per file), ≥128 at 64 bytes.
	if n[0] != 35 || n[1] != 4 || n[2] < 128 {
		t.Errorf("UPDATE BINARY count short/extended/64-byte = %v, want 35/4/≥128", n)
	}
}

func TestUIDUnknown(t *testing.T) {
	res, err := personalize(t, chiptest.NewCard(chiptest.Config{}), profile8K())
	if err != nil {
		t.Fatal(err)
	}
	if res.UID != nil || res.UIDString() != "uid unknown" {
		t.Errorf("UID = %x %q, want nil / uid unknown", res.UID, res.UIDString())
	}
}

func TestApplicationSelect(t *testing.T) {
	aid := []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}
	card := chiptest.NewCard(chiptest.Config{Applications: [][]byte{aid}})
	p := profile8K()
	p.AID = aid
	if _, err := personalize(t, card, p); err != nil {
		t.Fatal(err)
	}
	if _, err := personalize(t, chiptest.NewCard(chiptest.Config{}), p); !errors.Is(err, chip.ErrCardRefused) || !strings.Contains(err.Error(), "6A82") {
		t.Errorf("card without the application: err = %v, want a SELECT refusal 6A82", err)
	}
}

func TestWriteRefusedCarriesTheStatusWord(t *testing.T) {
	for _, sw := range []uint16{chip.SWSecurity, chip.SWConditions, chip.SWNotEnoughMem, chip.SWMemoryFailure, chip.SWWrongOffset} {
		t.Run(fmt.Sprintf("%04X", sw), func(t *testing.T) {
			_, err := personalize(t, chiptest.NewCard(chiptest.Config{RefuseWrites: sw}), profile8K())
			var swe *chip.SWError
			if !errors.Is(err, chip.ErrWriteRefused) || !errors.As(err, &swe) || swe.SW != sw || swe.FID != 0x0101 {
				t.Fatalf("err = %v, want ErrWriteRefused with SW %04X on file 0101", err, sw)
			}
		})
	}
	_, err := personalize(t, chiptest.NewCard(chiptest.Config{RefuseCreate: chip.SWNotEnoughMem}), profile8K())
	if !errors.Is(err, chip.ErrWriteRefused) || !strings.Contains(err.Error(), "CREATE FILE") {
		t.Errorf("CREATE refused: err = %v", err)
	}
}

func TestCardRemovedMidWriteIsNeverSuccess(t *testing.T) {
	for _, n := range []int{1, 5, 33} {
		card := chiptest.NewCard(chiptest.Config{RemoveAfterWrites: n})
		res, err := personalize(t, card, profile8K())
		if !errors.Is(err, chip.ErrCardRemoved) {
			t.Fatalf("removed after %d writes: err = %v, want ErrCardRemoved", n, err)
		}
		if card.Writes() != n {
			t.Errorf("card took %d writes, want %d", card.Writes(), n)
		}
		if res.APDUs == 0 {
			t.Errorf("Result.APDUs = 0 after a partial write")
		}
	}
}

func TestFlippedByteCaughtByVerify(t *testing.T) {
	card := chiptest.NewCard(chiptest.Config{Flip: &chip_flip})
	_, err := personalize(t, card, profile8K())
	var me *chip.MismatchError
	if !errors.Is(err, chip.ErrVerifyMismatch) || !errors.As(err, &me) || me.FID != 0x0103 {
		t.Fatalf("err = %v, want ErrVerifyMismatch naming file 0103", err)
	}
	if !strings.Contains(err.Error(), "0103") || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("message %q should name the file and the digest check", err)
	}
}

var chip_flip = chiptest.Flip{FID: 0x0103, Offset: 777}

func TestLock(t *testing.T) {
	card := chiptest.NewCard(chiptest.Config{UID: []byte{9, 9, 9, 9}})
	p := profile8K()
	p.Lock = true
	if _, err := personalize(t, card, p); err != nil {
		t.Fatal(err)
	}
	for _, f := range p.Files {
		if !card.Locked(f.FID) {
			t.Errorf("file %04X not locked", f.FID)
		}
	}
	// Personalizing a locked card again: the card refuses the write.
	r := chiptest.NewReader()
	r.Insert(card)
	_, err := r.Encoder().Personalize(t.Context(), p)
	var swe *chip.SWError
	if !errors.Is(err, chip.ErrWriteRefused) || !errors.As(err, &swe) || swe.SW != chip.SWSecurity {
		t.Errorf("second personalization of a locked card: err = %v, want write refused 6982", err)
	}
	// It still verifies.
	if _, err := r.Encoder().Verify(t.Context(), profile8K()); err != nil {
		t.Errorf("Verify on the locked card: %v", err)
	}
}

func TestExistingFileIsOverwritten(t *testing.T) {
	card := chiptest.NewCard(chiptest.Config{})
	p := profile8K()
	old := profile8K()
	for i := range old.Files {
		old.Files[i].Data = bytes.Repeat([]byte{0xEE}, len(old.Files[i].Data))
	}
	if _, err := personalize(t, card, old); err != nil {
		t.Fatal(err)
	}
	if _, err := personalize(t, card, p); err != nil {
		t.Fatalf("retry on the same blank: %v", err)
	}
	got, _ := card.File(0x0102)
	if !bytes.Equal(got, p.Files[1].Data) {
		t.Error("file 0102 still holds the old data")
	}
}

func TestVerify(t *testing.T) {
	card := chiptest.NewCard(chiptest.Config{UID: []byte{7, 7, 7, 7}})
	p := profile8K()
	if _, err := personalize(t, card, p); err != nil {
		t.Fatal(err)
	}
	r := chiptest.NewReader()
	r.Insert(card)
	e := r.Encoder()
	res, err := e.Verify(t.Context(), p)
	if err != nil || !bytes.Equal(res.UID, []byte{7, 7, 7, 7}) {
		t.Fatalf("Verify = %+v, %v", res, err)
	}
	before := card.Writes()

	other := profile8K()
	other.Files[2].Data = append(bytes.Clone(other.Files[2].Data[:100]), 0x42)
	_, err = e.Verify(t.Context(), other)
	var me *chip.MismatchError
	if !errors.As(err, &me) || me.FID != 0x0103 || !strings.Contains(err.Error(), "1500 bytes, the job has 101") {
		t.Errorf("shorter job file: err = %v", err)
	}
	other = profile8K()
	other.Files[3].Data[10] ^= 1
	if _, err = e.Verify(t.Context(), other); !errors.As(err, &me) || me.FID != 0x0104 {
		t.Errorf("one bit different: err = %v, want mismatch on 0104", err)
	}
	other = profile8K()
	other.Files = append(other.Files, chip.File{FID: 0x0200, Data: []byte{1}})
	if _, err = e.Verify(t.Context(), other); !errors.As(err, &me) || me.FID != 0x0200 || !strings.Contains(err.Error(), "missing") {
		t.Errorf("file not on card: err = %v", err)
	}
	if card.Writes() != before {
		t.Errorf("Verify wrote to the card")
	}

	blank := chiptest.NewReader()
	blank.Insert(chiptest.NewCard(chiptest.Config{}))
	if _, err := blank.Encoder().Verify(t.Context(), p); !errors.Is(err, chip.ErrVerifyMismatch) {
		t.Errorf("blank card: err = %v, want mismatch", err)
	}
}

func TestNoCardInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := chiptest.NewReader()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := r.Encoder().Personalize(ctx, profile8K())
		if !errors.Is(err, chip.ErrNoCard) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrNoCard after the deadline", err)
		}
	})
}

func TestWaitsForTheCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := chiptest.NewReader()
		card := chiptest.NewCard(chiptest.Config{UID: []byte{5, 5, 5, 5}})
		go func() {
			time.Sleep(2 * time.Second) // the printer moving the card to the encoder
			r.Insert(card)
		}()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		res, err := r.Encoder().Personalize(ctx, profile8K())
		if err != nil || !bytes.Equal(res.UID, []byte{5, 5, 5, 5}) {
			t.Fatalf("Personalize = %+v, %v", res, err)
		}
	})
}

func TestRemovedCardDoesNotCountAsPresent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := chiptest.NewReader()
		card := chiptest.NewCard(chiptest.Config{RemoveAfterWrites: 1})
		r.Insert(card)
		e := r.Encoder()
		if _, err := e.Personalize(t.Context(), profile8K()); !errors.Is(err, chip.ErrCardRemoved) {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		if _, err := e.Personalize(ctx, profile8K()); !errors.Is(err, chip.ErrNoCard) {
			t.Errorf("after the card left: err = %v, want ErrNoCard", err)
		}
	})
}

func TestBadProfile(t *testing.T) {
	big := make([]byte, 0x8000)
	for name, p := range map[string]chip.Personalization{
		"no files":      {},
		"reserved fid":  {Files: []chip.File{{FID: 0x3F00, Data: []byte{1}}}},
		"duplicate fid": {Files: []chip.File{{FID: 1, Data: []byte{1}}, {FID: 1, Data: []byte{2}}}},
		"short aid":     {AID: []byte{1, 2}, Files: []chip.File{{FID: 1, Data: []byte{1}}}},
		"file too big":  {Files: []chip.File{{FID: 1, Data: big}}},
	} {
		card := chiptest.NewCard(chiptest.Config{})
		if _, err := personalize(t, card, p); !errors.Is(err, chip.ErrBadProfile) {
			t.Errorf("%s: err = %v, want ErrBadProfile", name, err)
		}
		if len(card.Received()) != 0 {
			t.Errorf("%s: commands sent for an invalid profile", name)
		}
	}
}

// scripted answers each command with the next canned response, so status
// words the software card never gives can be tested.
type scripted struct {
	t     *testing.T
	steps []step
	i     int
}

type step struct {
	wantPrefix []byte
	resp       []byte
}

func (s *scripted) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	if s.i >= len(s.steps) {
		s.t.Fatalf("unexpected command %x", apdu)
	}
	st := s.steps[s.i]
	s.i++
	if !bytes.HasPrefix(apdu, st.wantPrefix) {
		s.t.Fatalf("command %d = %x, want prefix %x", s.i, apdu, st.wantPrefix)
	}
	return st.resp, nil
}

func TestStatusWordsFromScript(t *testing.T) {
	data := []byte("0123456789")
	p := chip.Personalization{Files: []chip.File{{FID: 0x0101, Data: data}}}
	fcp := []byte{0x62, 0x04, 0x80, 0x02, 0x00, 0x0A}
	tests := []struct {
		name        string
		personalize bool
		steps       []step
		check       func(t *testing.T, res chip.Result, err error)
	}{
		{
			name:        "61xx GET RESPONSE chain and 6Cxx wrong Le",
			personalize: true,
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6C, 0x04}},
				{[]byte{0xFF, 0xCA, 0, 0, 0x04}, []byte{0xDE, 0xAD, 0x61, 0x02}},
				{[]byte{0x00, 0xC0, 0, 0, 0x02}, []byte{0xBE, 0xEF, 0x90, 0x00}},
				{[]byte{0x00, 0xA4, 0x00, 0x0C}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xE0}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xD6, 0, 0, 10}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4, 0x00, 0x0C}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4, 0x00, 0x04}, append(bytes.Clone(fcp), 0x90, 0x00)},
				{[]byte{0x00, 0xB0, 0, 0, 10}, []byte{0x61, 0x0A}},
				{[]byte{0x00, 0xC0, 0, 0, 10}, append(bytes.Clone(data), 0x90, 0x00)},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if err != nil || !bytes.Equal(res.UID, []byte{0xDE, 0xAD, 0xBE, 0xEF}) || res.APDUs != 10 {
					t.Errorf("res %+v err %v", res, err)
				}
			},
		},
		{
			name:        "6700 halves the chunk, 6282 ends the read short",
			personalize: true,
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6A, 0x81}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xE0}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xD6, 0, 0, 10}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}}, // no FCP: size unknown
				{[]byte{0x00, 0xB0, 0, 0, 10}, []byte{0x67, 0x00}},
				{[]byte{0x00, 0xB0, 0, 0, 8}, append(bytes.Clone(data[:8]), 0x90, 0x00)},
				{[]byte{0x00, 0xB0, 0, 8, 2}, []byte{'8', 0x62, 0x82}},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				var me *chip.MismatchError
				if !errors.As(err, &me) || !strings.Contains(err.Error(), "read back 9 bytes") {
					t.Errorf("err = %v, want mismatch on a short file", err)
				}
				if res.UID != nil {
					t.Errorf("6A81 to GET DATA should give uid unknown, got %x", res.UID)
				}
			},
		},
		{
			name: "card without FCP support: 6A86, select again without",
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6E, 0x00}},
				{[]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x3F, 0x00}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4, 0x00, 0x04}, []byte{0x6A, 0x86}},
				{[]byte{0x00, 0xA4, 0x00, 0x0C, 0x02, 0x01, 0x01}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xB0, 0, 0, 10}, append(bytes.Clone(data), 0x90, 0x00)},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if err != nil || res.APDUs != 5 {
					t.Errorf("res %+v err %v", res, err)
				}
			},
		},
		{
			name: "6B00 on read: file shorter",
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6E, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xB0, 0, 0}, []byte{0x6B, 0x00}},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if !errors.Is(err, chip.ErrVerifyMismatch) {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "read refused is not a mismatch",
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6E, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xB0, 0, 0}, []byte{0x69, 0x82}},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if !errors.Is(err, chip.ErrCardRefused) || errors.Is(err, chip.ErrVerifyMismatch) {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "card answers more than asked",
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x6E, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xA4}, []byte{0x90, 0x00}},
				{[]byte{0x00, 0xB0, 0, 0}, append(bytes.Repeat([]byte{1}, 11), 0x90, 0x00)},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if !errors.Is(err, chip.ErrBadResponse) {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "one-byte response",
			steps: []step{
				{[]byte{0xFF, 0xCA}, []byte{0x90}},
			},
			check: func(t *testing.T, res chip.Result, err error) {
				if !errors.Is(err, chip.ErrBadResponse) {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "endless 61xx is bounded",
			steps: func() []step {
				s := []step{{[]byte{0xFF, 0xCA}, []byte{0x61, 0x01}}}
				for range 64 {
					s = append(s, step{[]byte{0x00, 0xC0}, []byte{0x00, 0x61, 0x01}})
				}
				return s
			}(),
			check: func(t *testing.T, res chip.Result, err error) {
				if !errors.Is(err, chip.ErrBadResponse) {
					t.Errorf("err = %v", err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &scripted{t: t, steps: tt.steps}
			var res chip.Result
			var err error
			if tt.personalize {
				res, err = chip.Personalize(t.Context(), c, nil, p, chip.Options{})
			} else {
				res, err = chip.Verify(t.Context(), c, nil, p, chip.Options{})
			}
			tt.check(t, res, err)
			if err == nil && c.i != len(c.steps) {
				t.Errorf("only %d of %d commands sent", c.i, len(c.steps))
			}
		})
	}
}

// fuzzCard answers each command with the next length-prefixed slice of the
// fuzz input; when the input runs out, the card is gone.
type fuzzCard struct{ b []byte }

func (f *fuzzCard) Transmit(_ context.Context, apdu []byte) ([]byte, error) {
	if len(apdu) < 4 {
		panic(fmt.Sprintf("session sent a %d-byte APDU", len(apdu)))
	}
	if len(f.b) == 0 {
		return nil, chip.ErrCardRemoved
	}
	n := int(f.b[0])
	f.b = f.b[1:]
	n = min(n, len(f.b))
	r := f.b[:n]
	f.b = f.b[n:]
	return r, nil
}

// FuzzSession feeds arbitrary card responses to Personalize and Verify: no
// panic, no endless loop, and success only when every file was read back.
func FuzzSession(f *testing.F) {
	f.Add([]byte{2, 0x90, 0x00, 2, 0x90, 0x00, 2, 0x90, 0x00, 2, 0x90, 0x00})
	f.Add([]byte{2, 0x61, 0x05, 7, 1, 2, 3, 4, 5, 0x90, 0x00, 2, 0x6C, 0x00})
	f.Add([]byte{2, 0x67, 0x00, 2, 0x67, 0x00, 2, 0x67, 0x00, 2, 0x62, 0x82})
	data := []byte("ab")
	p := chip.Personalization{Files: []chip.File{{FID: 0x0101, Data: data}}, Lock: true}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, verifyOnly := range []bool{false, true} {
			c := &fuzzCard{b: bytes.Clone(b)}
			var err error
			if verifyOnly {
				_, err = chip.Verify(t.Context(), c, nil, p, chip.Options{})
			} else {
				_, err = chip.Personalize(t.Context(), c, nil, p, chip.Options{})
			}
			if err == nil && !bytes.Contains(b, data) {
				t.Fatalf("success although the card never returned the file's bytes")
			}
		}
	})
}

func TestUIDKeptWhenTheWriteFails(t *testing.T) {
	res, err := personalize(t, chiptest.NewCard(chiptest.Config{UID: []byte{8, 8, 8, 8}, RefuseWrites: chip.SWSecurity}), profile8K())
	if err == nil || !bytes.Equal(res.UID, []byte{8, 8, 8, 8}) || res.APDUs == 0 {
		t.Errorf("failed personalization: res %+v err %v — the ledger needs the UID of the spoiled blank", res, err)
	}
}
