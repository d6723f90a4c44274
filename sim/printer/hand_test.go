package simprinter_test

import (
	"context"
	"errors"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// A person's hands: a card left at the encoder is taken out with the cover
// open (and only then), the printer reports no card inside, and a card put
// back leaves the printer like any other; the journal has every step.
func TestHandActions(t *testing.T) {
	var station []simprinter.StationEvent
	sim, err := simprinter.Open(simprinter.Config{OutDir: t.TempDir(), OnStation: func(ev simprinter.StationEvent) { station = append(station, ev) }})
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	ctx := context.Background()
	dial := func(ctx context.Context) (printer.Conn, error) { return tcp.Wrap(sim.Pipe()), nil }
	d, err := evolis.Open(ctx, "pipe", dial, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.TakeOut(); !errors.Is(err, simprinter.ErrCoverClosed) {
		t.Fatalf("take out with the cover closed: %v", err)
	}
	sim.OpenCover()
	n, err := sim.TakeOut()
	if err != nil || n != 1 {
		t.Fatalf("take out: card %d, %v", n, err)
	}
	if len(station) != 2 || station[1].Arrived || station[1].Card != 1 {
		t.Fatalf("the encoder was not told the card left: %+v", station)
	}
	if _, err := sim.TakeOut(); !errors.Is(err, simprinter.ErrNoCardInside) {
		t.Fatalf("second take out: %v", err)
	}
	if err := sim.PutBack(7, "print"); err == nil {
		t.Fatal("a card that never came from the feeder was put back")
	}
	if err := sim.PutBack(1, "print"); err != nil {
		t.Fatal(err)
	}
	sim.CloseCover()
	st, err := d.Status(ctx)
	if err != nil || st.Card == printer.PositionNone {
		t.Fatalf("status after put back: %+v %v", st, err)
	}
	if err := d.Eject(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ev := range sim.Events() {
		got = append(got, ev.Event)
	}
	want := []string{"blank_taken", "at_contactless", "card_removed", "card_put_back", "card_out"}
	if len(got) != len(want) {
		t.Fatalf("journal %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("journal %v, want %v", got, want)
		}
	}
}
