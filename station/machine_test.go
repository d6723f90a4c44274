package station

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"printstation/chip"
	"printstation/chip/chiptest"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	simprinter "printstation/sim/printer"
	"printstation/storage"
)

// allKinds lists every printer.Kind: KindOther, then each kind that has a
// sentinel error, up to the first that has none (the end of the list).
func allKinds() []printer.Kind {
	ks := []printer.Kind{printer.KindOther}
	for k := printer.KindOther + 1; k.String() != printer.KindOther.String(); k++ {
		ks = append(ks, k)
	}
	return ks
}

// The tables themselves: every printer fault kind is decided in one place,
// a paused worker never goes straight to printing, and every intent outcome
// is reachable from an open intent.
func TestCardMachineTables(t *testing.T) {
	for _, k := range allKinds() {
		if _, ok := printerFaults[k]; !ok {
			t.Errorf("printer fault kind %v has no action in printerFaults", k)
		}
	}
	if faultFor(fmt.Errorf("not a printer error")) != faultPause {
		t.Error("an unknown error must pause the printer (fail closed)")
	}
	for s, r := range workerMachine {
		if !r.feeds && s.can(wPrinting) {
			t.Errorf("worker state %s can go straight to printing", s)
		}
	}
	seen := map[outcome]bool{outOpen: true}
	for changed := true; changed; {
		changed = false
		for o := range seen {
			for _, n := range intentMachine[o].next {
				if !seen[n] {
					seen[n], changed = true, true
				}
			}
		}
	}
	for o := range intentMachine {
		if !seen[o] {
			t.Errorf("outcome %q cannot be reached from an open intent", o)
		}
	}
	for o, r := range intentMachine {
		if r.attempt && len(r.next) == 0 {
			t.Errorf("outcome %q counts toward the bound but a retry cannot reset it", o)
		}
	}
}

// resolveIntent enforces the table in the database: an illegal move and a
// second settlement of the same intent are refused.
func TestResolveIntentRefusesIllegalAndDouble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e := r.open()
		ctx := context.Background()
		res, err := e.db.Exec(`INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES ('J','p1',1,0,?)`, now())
		if err != nil {
			t.Fatal(err)
		}
		id, _ := res.LastInsertId()
		try := func(from, to outcome) error {
			return storage.InTx(ctx, e.db, func(tx *sql.Tx) error { return resolveIntent(ctx, tx, id, from, to, "") })
		}
		if err := try(outOpen, outConfirmed); err == nil {
			t.Error("open → uncertain_confirmed accepted")
		}
		if err := try(outOpen, outUncertain); err != nil {
			t.Fatal(err)
		}
		if err := try(outOpen, outConsumed); err == nil {
			t.Error("a settled intent was settled again as if open")
		}
		if err := try(outUncertain, outConfirmed); err != nil {
			t.Fatal(err)
		}
		if err := try(outUncertain, outUncertainSpoiled); err == nil {
			t.Error("a confirmed card was also spoiled")
		}
	})
}

// Every kind of print fault stops the printer after the one blank it
// spoiled (no second list of "printer faults" that misses some).
func TestEveryPrintFaultStopsThePrinter(t *testing.T) {
	for _, k := range allKinds() {
		t.Run(k.String(), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, "p1")
				r.fakes["p1"].FailOn("print", 1, k)
				e, ids := r.batch(2)
				stopped := func() bool {
					s := e.byName["p1"].snapshot().State
					return s == string(wPaused) || s == string(wOffline)
				}
				r.runUntil(stopped)
				_, spoiled, _ := r.ledgerByJob()
				if n := spoiled[ids[0]] + spoiled[ids[1]]; n != 1 {
					t.Fatalf("%d blanks spoiled before the printer stopped, want 1", n)
				}
				if f := count(r.fakes["p1"].Ops(), "feed"); f != 1 {
					t.Fatalf("%d blanks fed, want the one that failed", f)
				}
				// After a person's resume the batch finishes.
				e.ResumePrinter("p1")
				r.runUntil(r.allIn(ids, jobqueue.Printed))
			})
		})
	}
}

// The printer's link drops right after a blank was fed (a pulled cable):
// the job is shown as uncertain while the printer is away, and when it
// comes back the same counter check as after a restart finds the blank:
// the job stays uncertain (never "already counted"), a person spoils the
// card inside, and the ledger holds every blank the printer took.
func TestLinkDropAfterFeedIsUncertainNotCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e, ids := r.batch(2)
		p1 := r.wrapped["p1"]
		var once bool
		p1.after = func(op string) {
			if op == "feed" && !once {
				once = true
				p1.down.Store(true)
			}
		}
		ctx := context.Background()
		waitingWithReason := func(want string) func() bool {
			return func() bool {
				as, _ := e.AttentionList(ctx)
				for _, a := range as {
					if a.Job == ids[0] && a.State == string(jobqueue.Uncertain) && strings.Contains(a.Reason, want) {
						return true
					}
				}
				return false
			}
		}
		r.runUntil(waitingWithReason("is unknown"))
		p1.down.Store(false) // the cable is back
		r.runUntil(func() bool { return e.byName["p1"].snapshot().State == string(wAttention) })
		msg := e.byName["p1"].snapshot().Message
		if strings.Contains(msg, "counted") && !strings.Contains(msg, "not counted") {
			t.Fatalf("printer says the card was counted: %s", msg)
		}
		if !waitingWithReason("a blank was fed")() {
			as, _ := e.AttentionList(ctx)
			t.Fatalf("after the reconnect the job is not uncertain with the counter's finding: %+v", as)
		}
		if _, spoiled, _ := r.ledgerByJob(); spoiled[ids[0]] != 0 {
			t.Fatal("the card was counted before a person decided")
		}
		if err := e.Spoil(ctx, ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		r.checkBlanks("p1")
	})
}

// The link drops before the feed took effect: the counter shows no blank
// left the feeder, and the job goes back to the queue by itself.
func TestLinkDropBeforeFeedRequeues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e, ids := r.batch(1)
		p1 := r.wrapped["p1"]
		var once bool
		p1.after = func(op string) {
			// Cut after the first counter read of the card: the feed fails
			// before anything moved, and so does the counter check.
			if op == "counters-read" && !once {
				once = true
				p1.down.Store(true)
			}
		}
		ctx := context.Background()
		r.runUntil(func() bool { return r.states(ids)[ids[0]] == jobqueue.Uncertain })
		p1.down.Store(false)
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		consumed, spoiled, _ := r.ledgerByJob()
		if consumed[ids[0]] != 1 || spoiled[ids[0]] != 0 {
			t.Fatalf("consumed %v spoiled %v, want one card and no spoil", consumed, spoiled)
		}
		var notFed int
		e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_intents WHERE resolution='not_fed'`).Scan(&notFed)
		if notFed != 1 {
			t.Fatalf("%d intents settled as not fed, want 1", notFed)
		}
	})
}

// checkBlanks: every blank the fake printer fed is in the ledger.
func (r *rig) checkBlanks(name string) {
	r.t.Helper()
	consumed, spoiled, _ := r.ledgerByJob()
	n := 0
	for _, c := range consumed {
		n += c
	}
	for _, c := range spoiled {
		n += c
	}
	if f := count(r.fakes[name].Ops(), "feed"); f != n {
		r.t.Fatalf("printer %s fed %d blanks; the ledger has %d consumed + spoiled", name, f, n)
	}
}

// A chip failure whose reject fails (the link dropped) records the spoiled
// card and still gives the job back: nothing waits in spoiled_waiting.
func TestChipFailureWithFailedRejectRequeues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.cardCfg = func(p string, n int) chiptest.Config {
			if n == 1 {
				return chiptest.Config{RefuseWrites: 0x6581}
			}
			return chiptest.Config{}
		}
		r.fakes["p1"].FailOn("reject", 1, printer.KindDisconnected)
		e, ids := r.batch(1)
		var msg string
		r.runUntil(func() bool { s := e.byName["p1"].snapshot(); msg = s.Message; return s.State == string(wAttention) })
		if s := r.states(ids)[ids[0]]; s != jobqueue.Queued {
			t.Fatalf("job is %s after the failed reject, want queued", s)
		}
		if !strings.Contains(msg, "counted as spoiled") {
			t.Fatalf("printer message for the counted card inside: %s", msg)
		}
		// The person takes the card out and resumes.
		if err := r.fakes["p1"].Reject(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.ResumePrinter("p1")
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		r.checkBlanks("p1")
	})
}

// Confirm fails closed: when the printer cannot say whether the card is
// still inside, the card is not confirmed.
func TestConfirmRefusedWhenStatusUnreadable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		r.crashWithCardAtEncoder(ids[0])
		meta, _ := r.eng.queue.Meta(ctx, ids[0])
		prep, err := r.eng.prepare(ctx, meta, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.eng.parts.Encoders["p1"].Personalize(ctx, prep.perso); err != nil {
			t.Fatal(err)
		}
		r.eng.parts.Printers["p1"].Eject(ctx)
		r.readers["p1"].Insert(r.wrapped["p1"].bed.Current())
		e2 := r.open()
		r.wrapped["p1"].down.Store(true)
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil || !strings.Contains(err.Error(), "does not answer") {
			t.Fatalf("confirm with the printer's status unreadable: %v", err)
		}
		if s := r.states(ids)[ids[0]]; s != jobqueue.Uncertain {
			t.Fatalf("job is %s", s)
		}
		r.wrapped["p1"].down.Store(false)
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
	})
}

// Pausing and cancelling a batch take effect before the next feed: the job
// prepared during the card in flight goes back (or is cancelled), and no
// further blank is fed.
func TestPauseAndCancelBeforeNextFeed(t *testing.T) {
	for _, action := range []string{"pause", "cancel"} {
		t.Run(action, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, "p1")
				e, ids := r.batch(5)
				ctx := context.Background()
				var once bool
				r.wrapped["p1"].after = func(op string) {
					// The person acts while the first card is in the printer
					// and the second job is already prepared.
					if op == "print" && !once {
						once = true
						if err := e.SetBatch(ctx, "B1", action, "op"); err != nil {
							t.Error(err)
						}
					}
				}
				want := jobqueue.Queued
				if action == "cancel" {
					want = jobqueue.Cancelled
				}
				r.runUntil(func() bool { return r.allIn(ids[:1], jobqueue.Printed)() && r.allIn(ids[1:], want)() })
				if f := count(r.fakes["p1"].Ops(), "feed"); f != 1 {
					t.Fatalf("%d blanks fed after the batch was %sd during the first card, want 1", f, action)
				}
				if s := r.states(ids[:1])[ids[0]]; s != jobqueue.Printed {
					t.Fatalf("the card in flight ended %s", s)
				}
			})
		})
	}
}

// stuckEncoder is an encoder with a foreign card in its field: whatever
// blank the printer brings, it talks to the same chip, which refuses.
type stuckEncoder struct{}

func (stuckEncoder) Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	return chip.Result{UID: []byte{0x04, 0xAA, 0xBB, 0xCC}}, chip.ErrWriteRefused
}
func (stuckEncoder) Verify(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	return chip.Result{}, chip.ErrVerifyMismatch
}

// The circuit breaker: a foreign card at the encoder stops the printer at
// the second blank (same UID twice); failing chips stop it after the
// configured count, not after emptying the hopper.
func TestBreakerStopsThePrinter(t *testing.T) {
	t.Run("same UID", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, "p1")
			r.cfg.Engine.MaxAttempts = 10
			r.encoders = map[string]Encoder{"p1": stuckEncoder{}}
			e, _ := r.batch(3)
			var msg string
			r.runUntil(func() bool { s := e.byName["p1"].snapshot(); msg = s.Message; return s.State == string(wPaused) })
			if f := count(r.fakes["p1"].Ops(), "feed"); f != 2 {
				t.Fatalf("%d blanks fed, want 2 (the second shows the same chip)", f)
			}
			if !strings.Contains(msg, "same chip") {
				t.Fatalf("message: %s", msg)
			}
		})
	})
	t.Run("count", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, "p1")
			r.cfg.Engine.MaxAttempts = 10
			r.cfg.Engine.BreakerFailures = 4
			r.cardCfg = func(p string, n int) chiptest.Config { return chiptest.Config{RefuseWrites: 0x6581} }
			e, ids := r.batch(3)
			r.runUntil(func() bool { return e.byName["p1"].snapshot().State == string(wPaused) })
			if f := count(r.fakes["p1"].Ops(), "feed"); f != 4 {
				t.Fatalf("%d blanks fed, want the breaker's 4", f)
			}
			if s := r.states(ids)[ids[0]]; s != jobqueue.Queued {
				t.Fatalf("job is %s after the breaker, want back in the queue", s)
			}
		})
	})
}

// A technician's test card through the daemon holds the printer like a card
// and puts the blank it took in the ledger (spoiled, reason test), counted
// from the printer's own counter.
func TestTestCardThroughDaemonIsInTheLedger(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		sim := r.useSim(t, simprinter.Config{Speed: 0})
		r.open()
		r.stock("p1")
		ctx := context.Background()
		res, err := r.eng.PrinterDiag(ctx, "p1", "test-card", "tech")
		if err != nil {
			t.Fatal(err)
		}
		if tr := res.(*TestCardResult); tr.Blanks != 1 {
			t.Fatalf("test card took %d blanks by the counter, want 1", tr.Blanks)
		}
		taken := 0
		for _, ev := range sim.Events() {
			if ev.Event == "blank_taken" {
				taken++
			}
		}
		st, _ := r.eng.ledger.Stock(ctx)
		if taken != 1 || st.SpoiledAwaiting != 1 || st.Printers["p1"] != 99 {
			t.Fatalf("printer took %d blanks; ledger: %+v", taken, st)
		}
		if _, err := r.eng.PrinterDiag(ctx, "p1", "reset", "tech"); err == nil {
			t.Fatal("an operation the daemon does not run was accepted")
		}
	})
}

// A person confirms an uncertain card that left the printer at the desk
// reader (confirm_reader), not at the printer's encoder, and the centre's
// uncertain_resolved outcome names the printer and the chip UID.
func TestConfirmAtDeskReaderReportsPrinterAndUID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		desk := chiptest.NewReader()
		r.confirm = desk.Encoder()
		r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		r.crashWithCardAtEncoder(ids[0])
		meta, _ := r.eng.queue.Meta(ctx, ids[0])
		prep, err := r.eng.prepare(ctx, meta, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.eng.parts.Encoders["p1"].Personalize(ctx, prep.perso); err != nil {
			t.Fatal(err)
		}
		r.eng.parts.Printers["p1"].Eject(ctx)
		e2 := r.open()
		// At the printer's encoder it is not looked for.
		r.readers["p1"].Insert(r.wrapped["p1"].bed.Current())
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil || !strings.Contains(err.Error(), "desk reader") {
			t.Fatalf("confirm with the card away from the desk reader: %v", err)
		}
		desk.Insert(r.wrapped["p1"].bed.Current())
		uid, err := e2.Confirm(ctx, ids[0], "supervisor")
		if err != nil {
			t.Fatal(err)
		}
		rows, err := e2.db.QueryContext(ctx, `SELECT body FROM outbox_items WHERE kind='outcome'`)
		if err != nil {
			t.Fatal(err)
		}
		var it jobqueue.OutcomeItem
		for rows.Next() {
			var body []byte
			var o jobqueue.OutcomeItem
			if rows.Scan(&body) == nil && json.Unmarshal(body, &o) == nil && o.Outcome == "uncertain_resolved" {
				it = o
			}
		}
		rows.Close()
		if it.Printer != "p1" || it.UID != uid || uid == "" {
			t.Fatalf("uncertain_resolved outcome %+v, want printer p1 and chip %s", it, uid)
		}
	})
}

// A recorded load resumes a printer that waited only for blanks in the
// ledger, and never one stopped for something a person must see.
func TestLoadResumesOnlyAnEmptyPrinter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.stockN = 1
		e, ids := r.batch(2)
		ctx := context.Background()
		r.runUntil(func() bool { return e.byName["p1"].snapshot().State == string(wPaused) })
		if _, err := e.RecordStock(ctx, StockOp{Op: "load", Quantity: 5, Printer: "p1", Actor: "op"}); err != nil {
			t.Fatal(err)
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
	})
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.cfg.Engine.MaxAttempts = 10
		r.encoders = map[string]Encoder{"p1": stuckEncoder{}}
		e, _ := r.batch(1)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- e.Run(ctx) }()
		for e.byName["p1"].snapshot().State != string(wPaused) {
			time.Sleep(20 * time.Millisecond)
		}
		feeds := count(r.fakes["p1"].Ops(), "feed")
		if _, err := e.RecordStock(context.Background(), StockOp{Op: "load", Quantity: 5, Printer: "p1", Actor: "op"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second) // the fake clock: every worker's wait passes
		s := e.byName["p1"].snapshot()
		cancel()
		<-done
		if f := count(r.fakes["p1"].Ops(), "feed"); f != feeds {
			t.Fatalf("a load let the stopped printer feed %d more blanks", f-feeds)
		}
		if s.State != string(wPaused) || !strings.Contains(s.Message, "same chip") {
			t.Fatalf("after a load the stopped printer is %s: %s", s.State, s.Message)
		}
	})
}

// A card stuck at the exit is uncertain; spoiled by a person it is counted
// as a jam, not as a crash.
func TestEjectJamSpoiledAsJam(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.fakes["p1"].FailOn("eject", 1, printer.KindJam)
		e, ids := r.batch(1)
		r.runUntil(r.allIn(ids, jobqueue.Uncertain))
		if err := e.Spoil(context.Background(), ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
		var reason string
		rows, err := e.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var b []byte
			rows.Scan(&b)
			if en, err := inventory.ParseEntry(b); err == nil && en.Kind == inventory.Spoiled {
				reason = en.Reason
			}
		}
		rows.Close()
		if reason != inventory.ReasonJam {
			t.Fatalf("the jammed card was spoiled as %q, want %q", reason, inventory.ReasonJam)
		}
	})
}

// A job that reached its attempt bound only through cards a person spoiled
// after crashes is not blamed on the printer or the chip data.
func TestBoundAfterCrashSpoilsNamesTheCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e := r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		for i := 1; i <= 3; i++ {
			if _, err := e.db.Exec(`INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at, resolved_at, resolution) VALUES (?,?,?,?,?,?,?)`,
				ids[0], "p1", i, 0, now(), now(), string(outUncertainSpoiled)); err != nil {
				t.Fatal(err)
			}
		}
		e.SetBatch(context.Background(), "B1", "start", "op")
		r.runUntil(r.allIn(ids, jobqueue.Attention))
		as, _ := e.AttentionList(context.Background())
		if len(as) != 1 || !strings.Contains(as[0].Reason, "not failures of the card") {
			t.Fatalf("attention: %+v", as)
		}
		if err := e.Retry(context.Background(), ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
	})
}

// A job marked printing that no printer holds (a write that failed on the
// way back to the queue) is shown with its cause, and retry moves it on.
func TestStuckJobShownAndRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e := r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		if err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
			return e.queue.SetState(ctx, tx, ids[0], jobqueue.Printing, "on p1")
		}); err != nil {
			t.Fatal(err)
		}
		as, _ := e.AttentionList(ctx)
		if len(as) != 1 || as[0].Job != ids[0] || !strings.Contains(as[0].Reason, "no printer has it") {
			t.Fatalf("attention: %+v", as)
		}
		if err := e.Retry(ctx, ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
		e.SetBatch(ctx, "B1", "start", "op")
		r.runUntil(r.allIn(ids, jobqueue.Printed))
	})
}
