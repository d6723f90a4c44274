package chip_test

import (
	"context"
	"encoding/hex"
	"path/filepath"
	"printstation/internal/golden"
	"strings"
	"testing"

	"printstation/chip"
	"printstation/chip/chiptest"
)

// recorder keeps the APDU trace of a session: what a protocol analyzer
// between reader and card would show.
type recorder struct {
	card  chip.Card
	lines []string
}

func (r *recorder) Transmit(ctx context.Context, apdu []byte) ([]byte, error) {
	resp, err := r.card.Transmit(ctx, apdu)
	r.lines = append(r.lines, "> "+hex.EncodeToString(apdu))
	if err != nil {
		r.lines = append(r.lines, "! "+err.Error())
	} else {
		r.lines = append(r.lines, "< "+hex.EncodeToString(resp))
	}
	return resp, err
}

// TestAPDUTraceGolden pins the exact command sequence of a personalization
// (select, create with FCP tag 82, chunked update, FCP select, chunked read,
// activate), so a change to what reaches real cards is a reviewed diff.
func TestAPDUTraceGolden(t *testing.T) {
	data := make([]byte, 300)
	for i := range data {
		data[i] = byte(i)
	}
	p := chip.Personalization{
		AID:   []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01},
		Files: []chip.File{{FID: 0x0101, Data: data}, {FID: 0x0102, Data: []byte("ok")}},
		Lock:  true,
	}
	for _, tc := range []struct {
		golden string
		cfg    chiptest.Config
	}{
		{"personalize-short.golden", chiptest.Config{UID: []byte{4, 1, 2, 3, 4, 5, 6}, Applications: [][]byte{p.AID}}},
		{"personalize-extended.golden", chiptest.Config{UID: []byte{4, 1, 2, 3, 4, 5, 6}, Applications: [][]byte{p.AID}, Extended: true}},
		{"personalize-128-byte-card.golden", chiptest.Config{Applications: [][]byte{p.AID}, MaxChunk: 128}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			card := chiptest.NewCard(tc.cfg)
			rec := &recorder{card: card}
			if _, err := chip.Personalize(t.Context(), rec, card.ATR(), p, chip.Options{}); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(rec.lines, "\n") + "\n"
			path := filepath.Join("testdata", tc.golden)
			golden.Check(t, path, []byte(got))
		})
	}
}
