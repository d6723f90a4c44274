package station

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"printstation/chip/chiptest"
	"printstation/config"
	"printstation/jobqueue"
	"printstation/printer"
	_ "printstation/printer/evolis"
	simprinter "printstation/sim/printer"
)

// The fault matrix: every simulator fault in every phase of a card, during
// a batch, through the real Evolis driver and the printer simulator. After
// a person does what the station asks (and resumes), every job has exactly
// one card and every blank the printer took is in the ledger.
func TestFaultMatrix(t *testing.T) {
	kinds := []simprinter.FaultKind{simprinter.FaultJam, simprinter.FaultFeederEmpty, simprinter.FaultRibbonEnd,
		simprinter.FaultCoverOpen, simprinter.FaultRejectFull, simprinter.FaultDisconnect, simprinter.FaultBusy,
		simprinter.FaultGarbled, simprinter.FaultSlow}
	phases := []simprinter.Phase{simprinter.PhaseFeed, simprinter.PhaseContactless, simprinter.PhasePrint, simprinter.PhaseEject}
	for _, k := range kinds {
		for _, ph := range phases {
			t.Run(fmt.Sprintf("%s@%s", k, ph), func(t *testing.T) {
				t.Parallel()
				synctest.Test(t, func(t *testing.T) {
					runFault(t, simprinter.Fault{Card: 2, Phase: ph, Kind: k, After: k == simprinter.FaultGarbled, Delay: 3 * time.Second})
				})
			})
		}
	}
}

// useSim makes the rig drive printer p1 through the real Evolis driver into
// an in-process simulator whose contactless station gets a fresh software
// card for every blank.
func (r *rig) useSim(t testing.TB, cfg simprinter.Config) *simprinter.Sim {
	cfg.Log = zerolog.Nop()
	bed := &chiptest.Bed{Reader: r.readers["p1"], UIDPrefix: []byte{0x04, 0x01, 0x20, 0x30}, Blank: chiptest.Config{Applications: [][]byte{blankAID}}}
	cfg.OnStation = func(ev simprinter.StationEvent) { bed.Station(ev.Card, ev.Arrived) }
	sim, err := simprinter.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	r.partsFn = func(ctx context.Context, c *config.Config, log zerolog.Logger) (*Parts, error) {
		d, err := printer.Open(ctx, "evolis", "tcp://sim:9100", printer.Options{Name: "p1", Dial: sim.Dial, Timeouts: r.timeouts, Compress: true})
		if err != nil {
			return nil, err
		}
		return &Parts{Printers: map[string]Printer{"p1": d}, Encoders: map[string]Encoder{"p1": r.readers["p1"].Encoder()}, Close: func() { d.Close() }}, nil
	}
	return sim
}

func runFault(t *testing.T, f simprinter.Fault) {
	r := newRig(t, "p1")
	sim := r.useSim(t, simprinter.Config{Speed: 0, Faults: []simprinter.Fault{f}})
	r.timeouts = printer.Timeouts{Read: time.Second, Move: 2 * time.Second, Bitmap: 2 * time.Second, Print: 2 * time.Second, End: 2 * time.Second}
	e, ids := r.batch(3)

	// The person: whenever the printer waits, do what any operator does
	// (clear the jam, close the cover, new ribbon, empty the reject box,
	// refill the feeder), then resume.
	tech, _ := printer.Open(context.Background(), "evolis", "tcp://sim:9100", printer.Options{Name: "tech", Dial: sim.Dial, Timeouts: r.timeouts})
	defer tech.Close()
	person := func() {
		w := e.byName["p1"]
		s := w.snapshot()
		if s.State == "paused" || s.State == "attention" {
			if tc, ok := tech.(printer.Technician); ok {
				tc.Reset(context.Background())
			}
			sim.SetCover(false)
			sim.ReplaceRibbon()
			sim.EmptyRejectBox()
			sim.LoadFeeder(50)
			e.ResumePrinter("p1")
		}
		// Uncertain cards (the driver could not tell whether a blank
		// moved) are settled by spoiling them.
		as, _ := e.AttentionList(context.Background())
		for _, a := range as {
			if a.State == string(jobqueue.Uncertain) {
				e.Spoil(context.Background(), a.Job, "supervisor")
			} else {
				e.Retry(context.Background(), a.Job, "supervisor")
			}
		}
	}
	done := r.allIn(ids, jobqueue.Printed)
	r.runUntil(func() bool {
		if done() {
			return true
		}
		person()
		return false
	})

	consumed, spoiled, _ := r.ledgerByJob()
	var taken, nConsumed, nSpoiled int
	for _, ev := range sim.Events() {
		if ev.Event == "blank_taken" {
			taken++
		}
	}
	for _, id := range ids {
		if consumed[id] != 1 {
			t.Errorf("job %s has %d cards", id, consumed[id])
		}
		nConsumed += consumed[id]
		nSpoiled += spoiled[id]
	}
	if taken != nConsumed+nSpoiled {
		t.Errorf("printer took %d blanks; ledger has %d consumed + %d spoiled", taken, nConsumed, nSpoiled)
	}
	st, _ := e.ledger.Stock(context.Background())
	if st.Consumed != int64(nConsumed) || st.SpoiledAwaiting != int64(nSpoiled) {
		t.Errorf("ledger stock %+v", st)
	}
}
