package chiptest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"printstation/chip"
)

func TestBedFollowsTheCards(t *testing.T) {
	r := NewReader()
	b := &Bed{Reader: r, UIDPrefix: []byte{0x04, 0x01}}
	enc := r.Encoder()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := chip.Personalization{Files: []chip.File{{FID: 0x0101, Data: []byte("data")}}}

	b.Station(1, true)
	res, err := enc.Personalize(ctx, p)
	if err != nil || !bytes.Equal(res.UID, []byte{0x04, 0x01, 0, 0, 1}) {
		t.Fatalf("card 1: uid %X, %v", res.UID, err)
	}
	b.Station(1, true) // back at the encoder: the same chip, still written
	if _, err := enc.Verify(ctx, p); err != nil {
		t.Fatalf("the chip changed under a card that never left: %v", err)
	}
	b.Station(1, false)
	b.Station(2, true) // a new blank: nothing written yet
	if _, err := enc.Verify(ctx, p); err == nil {
		t.Fatal("card 2 carries card 1's data")
	}
}
