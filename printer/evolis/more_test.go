package evolis_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/raster"
	"printstation/printer/tcp"
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
	}{{"\r", false}, {"\n", true}, {"\x00", false}, {"\x00", true}, {"\r\n", true}, {"none", false}} {
		// synctest: with no terminator each reply ends by a quiet gap,
		// which a bubble's clock passes at once.
		synctest.Test(t, func(t *testing.T) {
			sim := newSim(t, simprinter.Config{Feeder: 2, ReplyEnd: tc.end, SplitReplies: tc.split})
			d := open(t, sim, printer.Options{})
			if step, err := cardFlow(context.Background(), d, front, false); err != nil {
				t.Errorf("reply end %q split %v: %s: %v", tc.end, tc.split, step, err)
			}
			if info, err := d.Info(context.Background()); err != nil || info.Serial != "SIM0001" {
				t.Errorf("reply end %q: info %+v %v", tc.end, info, err)
			}
		})
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

// The sequence the sources show (guide §21, the vendor capture, Evolis's
// sample code): Pr before Ss, downloads with no Sp, Se last; on the
// simulator no panel prints twice.
func TestSequenceAsTheSourcesShow(t *testing.T) {
	img, black := testCard()
	front, _ := raster.Convert(img, black, raster.Options{})
	sim := newSim(t, simprinter.Config{Feeder: 2})
	var mu sync.Mutex
	var frames [][]byte
	dial := func(ctx context.Context) (printer.Conn, error) {
		return recConn{Conn: tcp.Wrap(sim.Pipe()), mu: &mu, frames: &frames, pending: new([]byte)}, nil
	}
	d, err := evolis.Open(context.Background(), "pipe", dial, printer.Options{Name: "p1", Ribbon: "ymcko"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if step, err := cardFlow(context.Background(), d, front, false); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	var names []string
	for _, f := range frames {
		s := strings.TrimPrefix(string(f), "\x1b")
		if i := strings.IndexAny(s, ";\r"); i >= 0 {
			s = s[:i]
		}
		names = append(names, s)
	}
	seq := strings.Join(names, " ")
	idx := func(s string) int { return slices.Index(names, s) }
	if idx("Pr") < 0 || idx("Ss") < 0 || idx("Pr") > idx("Ss") {
		t.Errorf("Pr must come before Ss: %s", seq)
	}
	if idx("Sp") >= 0 {
		t.Errorf("Sp sent: each download prints the one before it, so the panel would print twice: %s", seq)
	}
	if names[len(names)-1] != "Se" {
		t.Errorf("the sequence does not end with Se: %s", seq)
	}
	sn := sim.Snapshot()
	if sn.Misprints != 0 || sn.PanelsPrinted != 5 {
		t.Errorf("simulator: %d misprints, %d panels printed; want 0 and 5", sn.Misprints, sn.PanelsPrinted)
	}
}

// A printer that reports another ribbon than the configuration names stops
// before a blank is fed, and says what to do.
func TestRibbonMismatchStopsBeforeFeed(t *testing.T) {
	sim := newSim(t, simprinter.Config{Feeder: 2, Ribbon: "ko"})
	d := open(t, sim, printer.Options{Ribbon: "ymcko"})
	err := d.Feed(context.Background())
	if !errors.Is(err, printer.ErrRibbonMismatch) || !strings.Contains(err.Error(), `"ko"`) || !strings.Contains(err.Error(), `"ymcko"`) {
		t.Fatalf("feed: %v, want a ribbon mismatch naming both ribbons", err)
	}
	if sn := sim.Snapshot(); sn.CardsInserted != 0 || sn.Card != 0 {
		t.Errorf("a blank moved: %+v", sn)
	}
	// With the printer's own ribbon the same card's panels are refused
	// before anything goes out.
	d2 := open(t, sim, printer.Options{})
	if r, err := d2.Ribbon(context.Background()); err != nil || r != "ko" {
		t.Fatalf("reported ribbon %q, %v", r, err)
	}
	if err := d2.Feed(context.Background()); err != nil {
		t.Fatal(err)
	}
	img, black := testCard()
	colour, _ := raster.Convert(img, black, raster.Options{Ribbon: "ymcko"})
	if err := d2.Print(context.Background(), printer.Front, colour); !errors.Is(err, printer.ErrRibbonMismatch) {
		t.Errorf("colour panels on a ko ribbon: %v", err)
	}
	ko, _ := raster.Convert(img, black, raster.Options{Ribbon: "ko"})
	if err := d2.Print(context.Background(), printer.Front, ko); err != nil {
		t.Errorf("ko panels on a ko ribbon: %v", err)
	}
}
