package vicc_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"printstation/sim/chip/vicc"
)

// The printer's contactless station: every blank brings a fresh chip with
// its own UID; a card that stays in the field keeps its chip; a card that
// leaves writes its dump.
func TestBedFollowsTheCards(t *testing.T) {
	dumps := t.TempDir()
	b := &vicc.Bed{Port: 35963, UIDPrefix: []byte{0x04, 0xAA, 0xBB, 0xCC}, DumpDir: dumps}
	defer b.Close()
	reader := vicc.ReaderName(35963)
	uid := func() []byte {
		r := transmit(t, reader, []byte{0xFF, 0xCA, 0x00, 0x00, 0x00})[0]
		return r[:len(r)-2]
	}

	b.Station(1, true)
	first := uid()
	if !bytes.Equal(first, []byte{0x04, 0xAA, 0xBB, 0xCC, 0x00, 0x00, 0x01}) {
		t.Fatalf("card 1 UID %X", first)
	}
	b.Station(1, true) // moved back to the encoder: still the same chip
	if again := uid(); !bytes.Equal(again, first) {
		t.Fatalf("the chip changed under a card that never left: %X then %X", first, again)
	}
	b.Station(1, false)
	if _, err := os.Stat(filepath.Join(dumps, "card-000001.json")); err != nil {
		t.Fatalf("no dump for card 1: %v", err)
	}
	b.Station(2, true)
	if second := uid(); bytes.Equal(second, first) || second[6] != 0x02 {
		t.Fatalf("card 2 UID %X (card 1 was %X)", second, first)
	}
}
