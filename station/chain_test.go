package station

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"printstation/config"
	"printstation/jobqueue"
	"printstation/printer"
)

// openIntents counts p1's intents not settled yet (a test's look at the
// database from inside a printer call).
func (r *rig) openOn(printerName string) int {
	var n int
	if err := r.eng.db.QueryRow(`SELECT count(*) FROM station_intents WHERE printer=? AND resolved_at IS NULL`, printerName).Scan(&n); err != nil {
		r.t.Fatal(err)
	}
	return n
}

// A card hands over to the next one: the printer is read once after the
// eject, while the finished card's record is still open, and that record
// and the next blank's intent are durable together before the next feed —
// not one commit, the readings, then another.
func TestCardHandsOverToTheNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e, ids := r.batch(4)
		cp := r.wrapped["p1"]
		var mu sync.Mutex
		ejected := 0
		var openAtReading, openAtFeed []int
		cp.after = func(op string) {
			mu.Lock()
			defer mu.Unlock()
			switch op {
			case "eject":
				ejected++
			case "counters-read":
				if ejected > 0 && ejected == cp.card() {
					// The reading between two cards.
					openAtReading = append(openAtReading, r.openOn("p1"))
				}
			case "feed":
				if cp.card() > 1 {
					openAtFeed = append(openAtFeed, r.openOn("p1"))
				}
			}
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		_ = e
		mu.Lock()
		defer mu.Unlock()
		// Cards 2…4 each followed one reading after the previous eject.
		if len(openAtReading) != 3 || len(openAtFeed) != 3 {
			t.Fatalf("readings between cards %v, feeds after the first %v: want 3 of each", openAtReading, openAtFeed)
		}
		for i := range openAtReading {
			if openAtReading[i] != 1 {
				t.Errorf("card %d: %d open intents when the printer was read after the previous eject, want 1 (the finished card's record not yet committed: it goes with the next intent)", i+2, openAtReading[i])
			}
			if openAtFeed[i] != 1 {
				t.Errorf("card %d: %d open intents at its feed, want 1 (its own; the previous card committed)", i+2, openAtFeed[i])
			}
		}
		consumed, spoiled, _ := r.ledgerByJob()
		for _, id := range ids {
			if consumed[id] != 1 || spoiled[id] != 0 {
				t.Errorf("job %s: consumed %d, spoiled %d", id, consumed[id], spoiled[id])
			}
		}
		// Between two cards the printer was read once: one status, one
		// counters.
		ops := r.fakes["p1"].Ops()
		var between []string
		for i, fed := 0, 0; i < len(ops); i++ {
			switch ops[i] {
			case "feed":
				fed++
				if fed > 1 {
					if count(between, "status") != 1 || count(between, "counters") != 1 {
						t.Errorf("before feed %d the printer was read %v, want one status and one counters", fed, between)
					}
				}
			case "eject":
				between = nil
			case "status", "counters":
				between = append(between, ops[i])
			}
		}
	})
}

// A person's action waiting for the printer (here the hold every
// confirm, spoil, retry and diagnostic takes) gets it after the card in
// flight: the worker does not go on to the next card while someone waits.
func TestPersonWaitingGetsThePrinterBetweenCards(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e, ids := r.batch(3)
		cp := r.wrapped["p1"]
		w := e.byName["p1"]
		fedWhenHeld := -1
		var once sync.Once
		cp.after = func(op string) {
			if op != "eject" {
				return
			}
			once.Do(func() {
				go func() {
					if err := e.holdPrinter(context.Background(), w); err != nil {
						t.Error(err)
						return
					}
					fedWhenHeld = cp.card()
					w.release()
				}()
				synctest.Wait() // the person waits for the printer
			})
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		synctest.Wait()
		if fedWhenHeld != 1 {
			t.Fatalf("the person held the printer after %d cards were fed, want 1 (right after the card in flight)", fedWhenHeld)
		}
	})
}

// The last blank the ledger has in a printer is the last one fed: the
// finished card still counts as in the printer until its record commits,
// so the hand-over check takes it off first.
func TestHandOverStopsAtTheLedgersLastBlank(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.stockN = 2
		e, ids := r.batch(3)
		r.runUntil(func() bool {
			n := 0
			for _, s := range r.states(ids) {
				if s == jobqueue.Printed {
					n++
				}
			}
			return n == 2 && e.byName["p1"].snapshot().Code == PrinterNoBlanks
		})
		if fed := r.wrapped["p1"].card(); fed != 2 {
			t.Fatalf("%d blanks fed with 2 in the ledger", fed)
		}
		st, _ := e.ledger.Stock(context.Background())
		if st.Printers["p1"] != 0 || st.Consumed != 2 {
			t.Fatalf("stock %+v", st)
		}
	})
}

// shortCounters gives a test printer the short counter reading.
type shortCounters struct {
	Printer
	n *atomic.Int32
}

func (s shortCounters) CardCounters(ctx context.Context) (printer.Counters, error) {
	s.n.Add(1)
	return s.Printer.Counters(ctx)
}

// Before every blank the worker reads the printer's counters the short way
// when the printer has it (the Evolis driver: two commands instead of six).
func TestShortCounterReadBeforeEachBlank(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		var short atomic.Int32
		r.partsFn = func(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Parts, error) {
			fn := r.partsFn
			r.partsFn = nil
			defer func() { r.partsFn = fn }()
			ps, err := r.parts(ctx, cfg, log)
			if err != nil {
				return nil, err
			}
			ps.Printers["p1"] = shortCounters{Printer: ps.Printers["p1"], n: &short}
			return ps, nil
		}
		_, ids := r.batch(3)
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		if n := short.Load(); n != 3 {
			t.Errorf("%d short counter readings for 3 cards, want 3 (one before each blank)", n)
		}
	})
}

// A printer that stops answering in the reading between two cards does not
// keep the finished card's record waiting: after chainReadBound the card is
// committed alone (a power cut then would find it counted, not uncertain)
// and the next card goes the ordinary way.
func TestSlowReadingBetweenCardsCommitsTheCardFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		_, ids := r.batch(2)
		cp := r.wrapped["p1"]
		var mu sync.Mutex
		var ejectedAt time.Time
		cp.after = func(op string) {
			mu.Lock()
			defer mu.Unlock()
			if op == "eject" && ejectedAt.IsZero() {
				ejectedAt = time.Now()
				cp.stall.Store(true)
			}
		}
		var firstCounted time.Time
		r.runUntil(func() bool {
			if firstCounted.IsZero() && r.states(ids[:1])[ids[0]] == jobqueue.Printed {
				firstCounted = time.Now()
			}
			return r.allIn(ids, jobqueue.Printed)()
		})
		mu.Lock()
		defer mu.Unlock()
		if ejectedAt.IsZero() || firstCounted.IsZero() {
			t.Fatalf("first card ejected at %v, counted at %v", ejectedAt, firstCounted)
		}
		if waited := firstCounted.Sub(ejectedAt); waited > 6*time.Second {
			t.Errorf("the first card's record waited %v for a printer that did not answer, want at most 6s (the bound of that reading, then the card alone)", waited)
		}
		consumed, spoiled, _ := r.ledgerByJob()
		for _, id := range ids {
			if consumed[id] != 1 || spoiled[id] != 0 {
				t.Errorf("job %s: consumed %d, spoiled %d", id, consumed[id], spoiled[id])
			}
		}
	})
}
