package printertest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"printstation/printer"
)

func TestRecordsAndFails(t *testing.T) {
	ctx := context.Background()
	d := New("p1", 2)
	d.FailOn("move", 2, printer.KindJam)
	d.FailAfter("feed", 3, printer.KindTimeout)

	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		t.Fatal(err)
	}
	if err := d.Print(ctx, printer.Front, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Eject(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	err := d.MoveTo(ctx, printer.StationContactless)
	if !errors.Is(err, printer.ErrJam) {
		t.Fatalf("second move: %v", err)
	}
	if d.Position() != printer.PositionPrintHead {
		t.Errorf("a failed move moved the card to %v", d.Position())
	}
	d.Reject(ctx)
	// third feed: the feeder is empty, and the scripted timeout comes after
	// the (failed) effect
	if err := d.Feed(ctx); !errors.Is(err, printer.ErrTimeout) {
		t.Errorf("third feed: %v", err)
	}
	c, _ := d.Counters(ctx)
	if c.CardsInserted != 2 {
		t.Errorf("cards inserted %d", c.CardsInserted)
	}
	if err := d.Feed(ctx); !errors.Is(err, printer.ErrFeederEmpty) {
		t.Errorf("fourth feed: %v", err)
	}
	want := "feed,move contactless,print front ,eject,feed,move contactless,reject,feed,counters,feed"
	if got := strings.Join(d.Ops(), ","); got != want {
		t.Errorf("calls\n got %s\nwant %s", got, want)
	}
}
