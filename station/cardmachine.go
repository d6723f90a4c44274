package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"printstation/printer"
)

// The card machine, written down in one place: what a printer's worker can
// be, what a blank's intent record can end as, and what a printer fault
// does. The worker, the recovery and the person's actions (confirm, spoil,
// retry) all move through these tables; the tests read them.

// workerState is where a printer's worker is.
type workerState string

const (
	wIdle      workerState = "idle"      // ready for the next job
	wPrinting  workerState = "printing"  // a card is in flight
	wPaused    workerState = "paused"    // a person must fix the printer, then resume
	wAttention workerState = "attention" // a card or job on this printer waits for a person
	wOffline   workerState = "offline"   // link or service down: retried by itself every few seconds
	wStopped   workerState = "stopped"   // the station is stopping
)

type workerRule struct {
	feeds  bool          // the worker may take a blank in this state
	resume bool          // a person's resume (or the offline timer) makes it idle
	next   []workerState // where it may go from here
}

// workerMachine is every legal move of a worker. A paused worker never goes
// straight to printing: it is resumed to idle first, and idle checks the
// printer (ready) before a blank moves.
var workerMachine = map[workerState]workerRule{
	wIdle:      {feeds: true, next: []workerState{wIdle, wPrinting, wPaused, wAttention, wOffline, wStopped}},
	wPrinting:  {feeds: true, next: []workerState{wIdle, wPrinting, wPaused, wAttention, wOffline, wStopped}},
	wPaused:    {resume: true, next: []workerState{wIdle, wPaused, wAttention, wOffline, wStopped}},
	wAttention: {resume: true, next: []workerState{wIdle, wPaused, wAttention, wOffline, wStopped}},
	wOffline:   {resume: true, next: []workerState{wIdle, wPaused, wAttention, wOffline, wStopped}},
	wStopped:   {next: []workerState{wIdle, wStopped}},
}

func (s workerState) can(to workerState) bool {
	for _, n := range workerMachine[s].next {
		if n == to {
			return true
		}
	}
	return false
}

// outcome is how a blank's intent record was settled. The intent is written
// before the blank moves (the crash rule); outOpen means nobody knows yet
// whether the blank left the feeder.
type outcome string

const (
	outOpen                    outcome = ""                    // NULL in the table
	outNotFed                  outcome = "not_fed"             // the counter shows no blank left the feeder
	outConsumed                outcome = "consumed"            // the card was finished and left the printer
	outSpoiled                 outcome = "spoiled"             // the engine spoiled the blank (chip, print, feed)
	outUncertain               outcome = "uncertain"           // a blank was fed; whether it was finished is a person's call
	outConfirmed               outcome = "uncertain_confirmed" // a person confirmed the uncertain card (chip read back)
	outUncertainSpoiled        outcome = "uncertain_spoiled"   // a person spoiled the uncertain card
	outSpoiledRetried          outcome = "spoiled_retried"     // spoiled, and a person gave the job a fresh attempt bound
	outUncertainSpoiledRetried outcome = "uncertain_spoiled_retried"
)

type outcomeRule struct {
	fed     bool      // a blank left the feeder: the ledger has (or will have) an event for it
	spoiled bool      // the ledger counts the blank as spoiled
	attempt bool      // counts toward the job's attempt bound
	next    []outcome // where a later decision may take it
}

// intentMachine is every legal settlement of an intent. resolveIntent
// enforces it in the database (the row must still hold the "from" outcome),
// so two deciders (a worker and a person, two people) never both win.
var intentMachine = map[outcome]outcomeRule{
	outOpen:                    {next: []outcome{outNotFed, outConsumed, outSpoiled, outUncertain}},
	outNotFed:                  {},
	outConsumed:                {fed: true},
	outSpoiled:                 {fed: true, spoiled: true, attempt: true, next: []outcome{outSpoiledRetried}},
	outUncertain:               {fed: true, next: []outcome{outConfirmed, outUncertainSpoiled}},
	outConfirmed:               {fed: true},
	outUncertainSpoiled:        {fed: true, spoiled: true, attempt: true, next: []outcome{outUncertainSpoiledRetried}},
	outSpoiledRetried:          {fed: true, spoiled: true},
	outUncertainSpoiledRetried: {fed: true, spoiled: true},
}

func (o outcome) can(to outcome) bool {
	for _, n := range intentMachine[o].next {
		if n == to {
			return true
		}
	}
	return false
}

// outcomesWhere lists the outcomes whose rule satisfies f, as an SQL list.
func outcomesWhere(f func(outcomeRule) bool) string {
	var s []string
	for _, o := range []outcome{outNotFed, outConsumed, outSpoiled, outUncertain, outConfirmed, outUncertainSpoiled, outSpoiledRetried, outUncertainSpoiledRetried} {
		if f(intentMachine[o]) {
			s = append(s, "'"+string(o)+"'")
		}
	}
	return "(" + strings.Join(s, ",") + ")"
}

// errIntentMoved means someone else settled the intent first.
var errIntentMoved = errors.New("the card's record was settled by someone else meanwhile")

// resolveIntent moves intent id from one outcome to another, in tx, only if
// the table allows it and the row still holds from. uid is kept when empty.
func resolveIntent(ctx context.Context, tx *sql.Tx, id int64, from, to outcome, uid string) error {
	if !from.can(to) {
		return fmt.Errorf("intent %d: %q → %q is not a legal settlement", id, from, to)
	}
	var u any
	if uid != "" {
		u = uid
	}
	q := `UPDATE station_intents SET resolution=?, resolved_at=COALESCE(resolved_at, ?), uid=COALESCE(?, uid) WHERE id=? AND resolution = ?`
	args := []any{string(to), now(), u, id, string(from)}
	if from == outOpen {
		q = `UPDATE station_intents SET resolution=?, resolved_at=?, uid=COALESCE(?, uid) WHERE id=? AND resolved_at IS NULL`
		args = args[:4]
		args[1] = now()
	}
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("intent %d → %s: %w", id, to, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("intent %d → %s: %w", id, to, errIntentMoved)
	}
	return nil
}

// faultAction is what a printer fault does to its worker.
type faultAction int

const (
	faultPause   faultAction = iota // a person fixes the printer, then resumes it
	faultOffline                    // the link or the printer's own business: retried by itself
)

// printerFaults decides, from the driver's typed error alone, what a
// printer fault does. Every kind stops the printer: a card is never fed
// into a printer that just failed. A kind missing here (a new one) pauses,
// as does any error that is not a printer error at all (fail closed).
var printerFaults = map[printer.Kind]faultAction{
	printer.KindOther:          faultPause,
	printer.KindJam:            faultPause,
	printer.KindFeederEmpty:    faultPause,
	printer.KindRibbonOut:      faultPause,
	printer.KindRibbonMismatch: faultPause,
	printer.KindCoverOpen:      faultPause,
	printer.KindRejectFull:     faultPause,
	printer.KindOutputFull:     faultPause,
	printer.KindNeedsCleaning:  faultPause,
	printer.KindHead:           faultPause,
	printer.KindRefused:        faultPause,
	printer.KindProtocol:       faultPause,
	printer.KindStopped:        faultPause, // a queue a person stopped is started by a person
	printer.KindCancelled:      faultPause, // cancelled outside the station: a person looks first
	printer.KindBusy:           faultOffline,
	printer.KindDisconnected:   faultOffline,
	printer.KindTimeout:        faultOffline,
}

func faultFor(err error) faultAction {
	if a, ok := printerFaults[printer.KindOf(err)]; ok {
		return a
	}
	return faultPause
}
