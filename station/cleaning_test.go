package station

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"printstation/jobqueue"
	"printstation/printer"
	printerdiag "printstation/printer/diagcmd"
	simprinter "printstation/sim/printer"
	"printstation/station/guide"
)

// simTech is a technician's own connection to the simulator (the
// printer's panel, in effect).
func (r *rig) simTech(t *testing.T, sim *simprinter.Sim) printer.Technician {
	d, err := printer.Open(context.Background(), "evolis", "tcp://sim:9100", printer.Options{Name: "tech", Dial: sim.Dial, Timeouts: r.timeouts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d.(printer.Technician)
}

// ribbon is the technician's hands: cover open, ribbon out or in, cover
// closed.
func ribbon(t *testing.T, sim *simprinter.Sim, in bool) {
	t.Helper()
	sim.OpenCover()
	defer sim.CloseCover()
	f := sim.RemoveRibbon
	if in {
		f = sim.InstallRibbon
	}
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

func blanksTaken(sim *simprinter.Sim) int {
	n := 0
	for _, ev := range sim.Events() {
		if ev.Event == "blank_taken" {
			n++
		}
	}
	return n
}

// The cleaning policy on the real Evolis driver and the printer
// simulator: warn at N cards since the cleaning, stop at M with a reason a
// person reads, no blank fed once M is reached (a Resume does not get
// round it), and go on once a cleaning is recorded.
func TestCleaningPolicyStopsAtMAndResumesAfterACleaning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		sim := r.useSim(t, simprinter.Config{Speed: 0})
		r.cfg.Engine.CleanWarnCards, r.cfg.Engine.CleanStopCards = 2, 3
		e, ids := r.batch(5)
		evs, stop := e.Events()
		defer stop()
		w := e.byName["p1"]
		run := r.running(t)
		defer run.stop()
		cleaningDue := func() bool {
			s := w.snapshot()
			return s.State == string(wPaused) && s.Code == PrinterCleaningDue
		}
		run.until("the cleaning stop", cleaningDue)
		if n := blanksTaken(sim); n != 3 {
			t.Fatalf("%d blanks fed before the cleaning stop, want 3 (clean_stop_cards)", n)
		}
		if msg := w.snapshot().Message; !strings.Contains(msg, "stopped for cleaning: 3 cards since its last cleaning") || !strings.Contains(msg, "record the cleaning") && !strings.Contains(msg, "clean") {
			t.Errorf("the stop says %q", msg)
		}
		states := r.states(ids)
		printed, queued := 0, 0
		for _, s := range states {
			switch s {
			case jobqueue.Printed:
				printed++
			case jobqueue.Queued:
				queued++
			}
		}
		if printed != 3 || queued != 2 {
			t.Fatalf("jobs after the stop: %v, want 3 printed and 2 back in the queue", states)
		}
		warned := false
		for len(evs) > 0 && !warned {
			ev := <-evs
			warned = ev.Type == "printer_cleaning_soon" && strings.Contains(ev.Message, "2 cards since its last cleaning")
		}
		if !warned {
			t.Error("no warning at clean_warn_cards")
		}
		if !w.snapshot().CleaningSoon {
			t.Error("the printer's state does not say its cleaning is due soon")
		}
		h, err := e.PrinterHealth(context.Background(), "p1")
		if err != nil {
			t.Fatal(err)
		}
		if c := h.Cleaning; c == nil || c.Since != 3 || !c.Soon || !c.Due || c.Recorded != 0 || h.Guide.Key != PrinterCleaningDue {
			t.Fatalf("health: cleaning %+v, guide %q", c, h.Guide.Key)
		}

		// A Resume alone does not feed a blank: the printer stops again.
		if err := e.ResumePrinter("p1"); err != nil {
			t.Fatal(err)
		}
		if cleaningDue() {
			t.Fatal("resume did not take the printer out of its pause")
		}
		run.until("the cleaning stop again after a Resume", cleaningDue)
		if n := blanksTaken(sim); n != 3 {
			t.Fatalf("%d blanks fed after a Resume without a cleaning, want still 3", n)
		}
		// Neither does a test card: the guidance table refuses it.
		if _, err := e.PrinterDiag(context.Background(), "p1", string(guide.ActTestCard), "tech"); !errors.Is(err, ErrDiagRefused) {
			t.Fatalf("test card while stopped for cleaning: %v", err)
		}

		// The cleaning cycle does not run with the ribbon in (guide Scp):
		// refused, nothing recorded, still stopped.
		if _, err := e.PrinterDiag(context.Background(), "p1", string(guide.ActClean), "tech"); err == nil || !strings.Contains(err.Error(), "ribbon taken out") {
			t.Fatalf("a cleaning cycle with the ribbon in: %v", err)
		}
		if !cleaningDue() {
			t.Fatal("a failed cleaning cycle let the printer go on")
		}
		// The technician takes the ribbon out: the cleaning cycle through
		// the daemon records the cleaning; with the ribbon back the
		// printer goes on by itself and finishes the batch.
		ribbon(t, sim, false)
		res, err := e.PrinterDiag(context.Background(), "p1", string(guide.ActClean), "tech")
		if err != nil {
			t.Fatal(err)
		}
		if cr := res.(*CleanResult); cr.Mark.How != CleanCycle || cr.Mark.Actor != "tech" || cr.Mark.Cleanings != 1 {
			t.Fatalf("cleaning recorded as %+v", cr.Mark)
		}
		ribbon(t, sim, true)
		run.until("the batch printed after the cleaning", r.allIn(ids, jobqueue.Printed))
		if n := blanksTaken(sim); n != 5 {
			t.Fatalf("%d blanks for 5 jobs", n)
		}
		if w.snapshot().CleaningSoon {
			t.Error("still 'cleaning soon' right after a cleaning")
		}
		h, _ = e.PrinterHealth(context.Background(), "p1")
		if c := h.Cleaning; c == nil || c.Since != 2 || c.Recorded != 1 || c.Due {
			t.Fatalf("health after the cleaning: %+v", c)
		}
	})
}

// running runs the engine until stop (which drains it), so that a test
// acts on a live station.
type runningEngine struct {
	t      *testing.T
	r      *rig
	cancel context.CancelFunc
	done   chan error
}

func (r *rig) running(t *testing.T) *runningEngine {
	ctx, cancel := context.WithCancel(context.Background())
	re := &runningEngine{t: t, r: r, cancel: cancel, done: make(chan error, 1)}
	go func() { re.done <- r.eng.Run(ctx) }()
	return re
}

func (re *runningEngine) until(what string, cond func() bool) {
	re.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			re.t.Fatalf("%s: not reached; status: %s", what, re.r.eng.StatusLine())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (re *runningEngine) stop() {
	re.r.eng.Drain()
	select {
	case <-re.done:
	case <-time.After(30 * time.Second):
		re.t.Error("engine did not drain")
	}
	re.cancel()
}

// A cleaning started at the printer's own panel raises its cleaning
// counter: the station records it, and a printer stopped for cleaning goes
// on.
func TestCleaningByThePrintersCounterIsRecorded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		sim := r.useSim(t, simprinter.Config{Speed: 0})
		r.cfg.Engine.CleanWarnCards, r.cfg.Engine.CleanStopCards = 1, 2
		e, ids := r.batch(3)
		w := e.byName["p1"]
		run := r.running(t)
		defer run.stop()
		run.until("the cleaning stop", func() bool { return w.snapshot().Code == PrinterCleaningDue })
		// The technician runs the cleaning at the printer, not through the
		// station: the printer counts it.
		tech := r.simTech(t, sim)
		ribbon(t, sim, false)
		if err := tech.Clean(context.Background()); err != nil {
			t.Fatal(err)
		}
		ribbon(t, sim, true)
		if err := e.ResumePrinter("p1"); err != nil {
			t.Fatal(err)
		}
		run.until("the batch printed", r.allIn(ids, jobqueue.Printed))
		_, n, err := e.lastCleaning(context.Background(), w)
		if err != nil || n != 1 {
			t.Fatalf("recorded cleanings %d (%v), want the printer's one", n, err)
		}
	})
}

// A technician's action is refused at once while the printer prints a
// card, saying why, and nothing is sent to the printer.
func TestDiagRefusedWhilePrinting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		sim := r.useSim(t, simprinter.Config{Speed: 0})
		r.open()
		r.stock("p1")
		w := r.eng.byName["p1"]
		w.set(wPrinting, "", "J-1")
		for _, op := range guide.TechActions {
			_, err := r.eng.PrinterDiag(context.Background(), "p1", string(op), "tech")
			var dr *DiagRefused
			if !errors.As(err, &dr) || !strings.Contains(err.Error(), "is printing a card (job J-1)") {
				t.Errorf("%s while printing: %v", op, err)
			}
		}
		if n := blanksTaken(sim); n != 0 {
			t.Fatalf("%d blanks taken by refused actions", n)
		}
		w.set(wIdle, "", "")
		if _, err := r.eng.PrinterDiag(context.Background(), "p1", string(guide.ActSelfAdjust), "tech"); err != nil {
			t.Fatalf("self-adjust on an idle printer: %v", err)
		}
		// The probe report and the sensors through the daemon, as
		// printstationctl diag printer reads them from a printer directly.
		res, err := r.eng.PrinterDiag(context.Background(), "p1", string(guide.ActProbe), "tech")
		if err != nil {
			t.Fatal(err)
		}
		if rep := res.(printerdiag.ProbeReport); len(rep.Reads) < 20 || rep.Info == nil || rep.Info.Model == "" || len(rep.Sensors) == 0 || len(rep.Errors) != 0 {
			t.Fatalf("probe through the daemon: %+v", rep)
		}
		res, err = r.eng.PrinterDiag(context.Background(), "p1", "sensors", "tech")
		if ss, _ := res.([]printer.Sensor); err != nil || len(ss) < 5 {
			t.Fatalf("sensors through the daemon: %v %v", res, err)
		}
	})
}

// The technician's page shows the encoder's last chip write (ATR, APDUs,
// time; no UID), and the reader write test reports a missing test card as
// a failed test, not a success.
func TestHealthShowsTheEncodersLastWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e, ids := r.batch(1)
		run := r.running(t)
		run.until("the card printed", r.allIn(ids, jobqueue.Printed))
		h, err := e.PrinterHealth(context.Background(), "p1")
		if err != nil {
			t.Fatal(err)
		}
		u := h.EncoderLast
		if u == nil || !u.OK || u.APDUs < 3 || u.ATR == "" || u.At.IsZero() {
			t.Fatalf("encoder's last write: %+v", u)
		}
		if h.Info == nil || h.Info.Serial != "FAKE-p1" || h.Counters == nil || h.Counters.CardsInserted != 1 || h.Stale {
			t.Fatalf("health: %+v", h)
		}
		res, err := e.PrinterDiag(context.Background(), "p1", string(guide.ActReaderTest), "tech")
		if err != nil {
			t.Fatal(err)
		}
		if rt := res.(*ReaderTest); rt.OK || !strings.Contains(rt.Error, "test card at the encoder") {
			t.Fatalf("reader test with no card at the encoder: %+v", rt)
		}
		run.stop()
	})
}
