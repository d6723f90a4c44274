package evolis_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"printstation/printer"
	"printstation/printer/raster"
	simprinter "printstation/sim/printer"
)

// cardFlow runs the engine's steps for one card and returns the first
// error and the step that failed.
func cardFlow(ctx context.Context, d printer.Driver, front *raster.Panels, reject bool) (string, error) {
	if err := d.Feed(ctx); err != nil {
		return "feed", err
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		return "contactless", err
	}
	if err := d.Print(ctx, printer.Front, front); err != nil {
		return "print", err
	}
	if reject {
		if err := d.Reject(ctx); err != nil {
			return "reject", err
		}
		return "", nil
	}
	if err := d.Eject(ctx); err != nil {
		return "eject", err
	}
	return "", nil
}

func TestFaultsBecomeTypedErrors(t *testing.T) {
	img, black := testCard()
	front, err := raster.Convert(img, black, raster.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fault  string
		reject bool
		step   string
		is     error
		pos    printer.Position
		moved  bool // the card is somewhere else after the failure
	}{
		{fault: "1:feed:jam", step: "feed", is: printer.ErrJam, pos: printer.PositionFeeder},
		{fault: "1:feed:feeder_empty", step: "feed", is: printer.ErrFeederEmpty, pos: printer.PositionNone},
		{fault: "1:feed:busy", step: "feed", is: printer.ErrBusy, pos: printer.PositionNone},
		{fault: "1:contactless:jam", step: "contactless", is: printer.ErrJam, pos: printer.PositionContactless},
		{fault: "1:contactless:cover_open", step: "contactless", is: printer.ErrCoverOpen, pos: printer.PositionPrintHead},
		{fault: "1:contactless:disconnect", step: "contactless", is: printer.ErrDisconnected, pos: printer.PositionPrintHead},
		{fault: "1:contactless:disconnect:after", step: "contactless", is: printer.ErrDisconnected, pos: printer.PositionContactless},
		// The first download finds the fault before the card leaves the
		// contactless station (Sr does not move a card: guide page 43).
		{fault: "1:print:ribbon_end", step: "print", is: printer.ErrRibbonOut, pos: printer.PositionContactless},
		{fault: "1:print:cover_open", step: "print", is: printer.ErrCoverOpen, pos: printer.PositionContactless},
		{fault: "1:print:jam", step: "print", is: printer.ErrJam, pos: printer.PositionPrintHead},
		{fault: "1:print:garbled", step: "print", is: printer.ErrProtocol, pos: printer.PositionPrintHead},
		{fault: "1:eject:slow:30s", step: "eject", is: printer.ErrTimeout, pos: printer.PositionNone},
		{fault: "1:eject:reject_full", reject: true, step: "reject", is: printer.ErrRejectFull, pos: printer.PositionPrintHead},
		{fault: "1:eject:jam", step: "eject", is: printer.ErrJam, pos: printer.PositionOutput},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, err := simprinter.ParseFault(tc.fault)
				if err != nil {
					t.Fatal(err)
				}
				sim := newSim(t, simprinter.Config{Feeder: 3, Faults: []simprinter.Fault{f}})
				d := open(t, sim, printer.Options{Timeouts: printer.Timeouts{End: 5 * time.Second, Print: 5 * time.Second}})
				step, err := cardFlow(context.Background(), d, front, tc.reject)
				if step != tc.step || !errors.Is(err, tc.is) {
					t.Fatalf("failed at %q with %v; want %q with %v", step, err, tc.step, tc.is)
				}
				var pe *printer.Error
				if !errors.As(err, &pe) || pe.Printer != "p1" {
					t.Fatalf("not a *printer.Error naming the printer: %#v", err)
				}
				if pe.Position != tc.pos {
					t.Errorf("card position %v, want %v (%v)", pe.Position, tc.pos, err)
				}
				// The driver keeps working after the fault: status reads.
				if _, err := d.Status(context.Background()); err != nil && !errors.Is(err, printer.ErrJam) {
					t.Errorf("status after the fault: %v", err)
				}
			})
		})
	}
}

// After the link drops the next command dials again and succeeds; the
// blank count shows nothing was fed twice.
func TestRecoversAfterDisconnect(t *testing.T) {
	f, _ := simprinter.ParseFault("1:contactless:disconnect")
	sim := newSim(t, simprinter.Config{Feeder: 3, Faults: []simprinter.Fault{f}})
	d := open(t, sim, printer.Options{})
	ctx := context.Background()
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); !errors.Is(err, printer.ErrDisconnected) {
		t.Fatalf("move: %v", err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		t.Fatalf("move after reconnect: %v", err)
	}
	if err := d.Reject(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := d.Counters(ctx)
	if err != nil || c.CardsInserted != 1 {
		t.Errorf("cards inserted %d, %v; want 1", c.CardsInserted, err)
	}
	if sn := sim.Snapshot(); sn.RejectCount != 1 || sn.Card != 0 {
		t.Errorf("sim after reject: %+v", sn)
	}
}

// A reply slower than the class timeout is a timeout, and the late reply
// does not confuse the next command.
func TestTimeoutThenFreshLink(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, _ := simprinter.ParseFault("1:feed:slow:20s")
		sim := newSim(t, simprinter.Config{Feeder: 3, Faults: []simprinter.Fault{f}})
		d := open(t, sim, printer.Options{Timeouts: printer.Timeouts{Move: 10 * time.Second}})
		ctx := context.Background()
		start := time.Now()
		err := d.Feed(ctx)
		if !errors.Is(err, printer.ErrTimeout) {
			t.Fatalf("feed: %v", err)
		}
		if el := time.Since(start); el < 10*time.Second || el > 15*time.Second {
			t.Errorf("gave up after %v, want the 10 s feed timeout", el)
		}
		var pe *printer.Error
		errors.As(err, &pe)
		if pe.Position != printer.PositionPrintHead {
			t.Errorf("position after timeout: %v (the blank was fed)", pe.Position)
		}
		c, err := d.Counters(ctx)
		if err != nil || c.CardsInserted != 1 {
			t.Errorf("counters after timeout: %+v, %v", c, err)
		}
	})
}

func TestStatusAndSensors(t *testing.T) {
	sim := newSim(t, simprinter.Config{Feeder: 1})
	d := open(t, sim, printer.Options{})
	ctx := context.Background()
	st, err := d.Status(ctx)
	if err != nil || !st.Ready || st.Card != printer.PositionNone {
		t.Fatalf("status %+v, %v", st, err)
	}
	sim.SetCover(true)
	st, _ = d.Status(ctx)
	if st.Ready || !st.CoverOpen || len(st.Problems) != 1 {
		t.Errorf("cover open: %+v", st)
	}
	if err := d.Feed(ctx); !errors.Is(err, printer.ErrCoverOpen) {
		t.Errorf("feed with cover open: %v", err)
	}
	sim.SetCover(false)
	if err := d.TestCard(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ = d.Status(ctx)
	if !st.FeederEmpty || st.Ready {
		t.Errorf("after the last blank: %+v", st)
	}
	ss, err := d.Sensors(ctx)
	if err != nil || len(ss) != 6 {
		t.Fatalf("sensors %v, %v", ss, err)
	}
	for _, s := range ss {
		if s.Code == "f" && s.Reading != "empty" {
			t.Errorf("feeder sensor %+v", s)
		}
	}
	info, err := d.Info(ctx)
	if err != nil || info.Serial != "SIM0001" || info.Driver != "evolis" {
		t.Errorf("info %+v, %v", info, err)
	}
}

// A card left in the printer by a crash is found at connect.
func TestConnectFindsCard(t *testing.T) {
	sim := newSim(t, simprinter.Config{Feeder: 2})
	d := open(t, sim, printer.Options{})
	ctx := context.Background()
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d2 := open(t, sim, printer.Options{})
	err := d2.Feed(ctx)
	var pe *printer.Error
	if !errors.As(err, &pe) || pe.Kind != printer.KindRefused || pe.Position != printer.PositionContactless {
		t.Errorf("feed with a card at the contactless station: %v", err)
	}
	c, _ := d2.Counters(ctx)
	if c.CardsInserted != 1 {
		t.Errorf("a second blank was taken with a card inside: %d", c.CardsInserted)
	}
}
