package station

import (
	"context"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"printstation/config"
	"printstation/jobqueue"
	"printstation/printer"
	_ "printstation/printer/evolis"
	simprinter "printstation/sim/printer"
)

// useRibbonSim is useSim with the driver told the printer's configured
// ribbon, as RealParts does.
func (r *rig) useRibbonSim(t *testing.T, simRibbon string) *simprinter.Sim {
	sim := r.useSim(t, simprinter.Config{Ribbon: simRibbon})
	r.partsFn = func(ctx context.Context, c *config.Config, log zerolog.Logger) (*Parts, error) {
		d, err := printer.Open(ctx, "evolis", "tcp://sim:9100", printer.Options{Name: "p1", Dial: sim.Dial, Compress: true, Ribbon: c.Printers[0].Ribbon})
		if err != nil {
			return nil, err
		}
		return &Parts{Printers: map[string]Printer{"p1": d}, Encoders: map[string]Encoder{"p1": r.readers["p1"].Encoder()}, Close: func() { d.Close() }}, nil
	}
	return sim
}

// A printer whose ribbon is not the configured one stops with a message
// naming both before a blank moves; the job waits for it.
func TestRibbonMismatchStopsPrinter(t *testing.T) {
	r := newRig(t, "p1")
	r.cfg.Printers[0].Ribbon = "ymcko"
	sim := r.useRibbonSim(t, "ko")
	e, ids := r.batch(1)
	var s PrinterState
	r.runUntil(func() bool {
		s = e.byName["p1"].snapshot()
		return s.State == "paused" || s.State == "attention"
	})
	if !strings.Contains(s.Message, "wrong ribbon") || !strings.Contains(s.Message, `"ko"`) || !strings.Contains(s.Message, `"ymcko"`) {
		t.Errorf("printer message %q does not name both ribbons", s.Message)
	}
	if sn := sim.Snapshot(); sn.CardsInserted != 0 {
		t.Errorf("%d blanks fed on the wrong ribbon", sn.CardsInserted)
	}
	for _, st := range r.states(ids) {
		if st != jobqueue.Queued && st != jobqueue.Printing {
			t.Errorf("job state %s, want it waiting", st)
		}
	}
}

// The configured ribbon chooses the panels the engine makes: a ko printer
// gets K and O only, and prints on a ko ribbon without a misprint.
func TestRibbonChoosesPanels(t *testing.T) {
	r := newRig(t, "p1")
	r.cfg.Printers[0].Ribbon = "ko"
	sim := r.useRibbonSim(t, "ko")
	e, ids := r.batch(2)
	meta, _ := e.queue.Meta(context.Background(), ids[0])
	p, err := e.prepare(context.Background(), meta, "p1")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.front.Ribbon(); got != "ko" {
		t.Errorf("panels %q for a ko printer", got)
	}
	r.runUntil(r.allIn(ids, jobqueue.Printed))
	sn := sim.Snapshot()
	if sn.Misprints != 0 || sn.PanelsPrinted != 4 {
		t.Errorf("simulator printed %d panels with %d misprints; want 4 and 0", sn.PanelsPrinted, sn.Misprints)
	}
}

// A configured ribbon with no panel layout pauses the printer with what to
// change; no job is blamed and no blank moves.
func TestUnknownRibbonPausesPrinter(t *testing.T) {
	r := newRig(t, "p1")
	r.cfg.Printers[0].Ribbon = "kbr"
	e, ids := r.batch(1)
	var s PrinterState
	r.runUntil(func() bool {
		s = e.byName["p1"].snapshot()
		return s.State == "paused"
	})
	if !strings.Contains(s.Message, `"kbr"`) || !strings.Contains(s.Message, "configuration") {
		t.Errorf("printer message %q", s.Message)
	}
	for _, op := range r.fakes["p1"].Ops() {
		if op == "feed" {
			t.Errorf("a blank was fed: %v", r.fakes["p1"].Ops())
		}
	}
	for _, st := range r.states(ids) {
		if st != jobqueue.Queued {
			t.Errorf("job %s, want queued", st)
		}
	}
}
