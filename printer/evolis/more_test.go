package evolis_test

import (
	"context"
	"errors"
	"testing"

	"printstation/printer"
	"printstation/printer/raster"
	simprinter "printstation/sim/printer"
)

// The same card works whatever ends the printer's replies and however the
// replies are cut up on the way.
func TestReplyEndings(t *testing.T) {
	img, black := testCard()
	front, _ := raster.Convert(img, black, raster.Options{})
	for _, tc := range []struct {
		end   string
		split bool
	}{{"\r", false}, {"\n", true}, {"\x00", false}, {"\x00", true}, {"\r\n", true}} {
		sim := newSim(t, simprinter.Config{Feeder: 2, ReplyEnd: tc.end, SplitReplies: tc.split})
		d := open(t, sim, printer.Options{})
		if step, err := cardFlow(context.Background(), d, front, false); err != nil {
			t.Errorf("reply end %q split %v: %s: %v", tc.end, tc.split, step, err)
		}
		if info, err := d.Info(context.Background()); err != nil || info.Serial != "SIM0001" {
			t.Errorf("reply end %q: info %+v %v", tc.end, info, err)
		}
	}
}

// A jammed card stays jammed for every move until a reset (someone took
// it out); then the printer works again and the journal says what
// happened to the card.
func TestJamUntilReset(t *testing.T) {
	f, _ := simprinter.ParseFault("1:contactless:jam")
	sim := newSim(t, simprinter.Config{Feeder: 3, Faults: []simprinter.Fault{f}})
	d := open(t, sim, printer.Options{})
	ctx := context.Background()
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); !errors.Is(err, printer.ErrJam) {
		t.Fatalf("move: %v", err)
	}
	err := d.Reject(ctx)
	var pe *printer.Error
	if !errors.As(err, &pe) || pe.Kind != printer.KindJam || pe.Position != printer.PositionContactless {
		t.Errorf("reject of a jammed card: %v", err)
	}
	if err := d.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Status(ctx); err != nil || st.Card != printer.PositionNone {
		t.Errorf("status after reset: %+v %v", st, err)
	}
	if err := d.Feed(ctx); err != nil {
		t.Errorf("feed after reset: %v", err)
	}
	var evs []string
	for _, e := range sim.Events() {
		evs = append(evs, e.Event)
	}
	if join(evs) != "blank_taken card_removed blank_taken" {
		t.Errorf("journal %v", evs)
	}
}

func TestRefusesWithoutCardOrWhenClosed(t *testing.T) {
	img, black := testCard()
	front, _ := raster.Convert(img, black, raster.Options{})
	sim := newSim(t, simprinter.Config{Feeder: 1})
	d := open(t, sim, printer.Options{})
	ctx := context.Background()
	if err := d.Print(ctx, printer.Front, front); printer.KindOf(err) != printer.KindRefused {
		t.Errorf("print with no card: %v", err)
	}
	if sn := sim.Snapshot(); sn.CardsInserted != 0 {
		t.Errorf("print with no card took a blank")
	}
	d.Close()
	if _, err := d.Status(ctx); !errors.Is(err, printer.ErrDisconnected) {
		t.Errorf("status on a closed driver: %v", err)
	}
}
