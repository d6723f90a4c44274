package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"printstation/printer"
	"printstation/station/localapi"
)

// The cleaning policy: a printer whose print head went clean_stop_cards
// cards since its last recorded cleaning is fed no blank until a cleaning
// is recorded; at clean_warn_cards the page and the journal warn. "Cards"
// are the printer's own card counter (cards inserted), so test cards and
// spoiled blanks count as the head sees them.
//
// A cleaning is recorded when the printer's cleaning cycle ran through the
// daemon (diag clean), when a technician records one done by hand at the
// printer (diag record-cleaning), or when the printer's own cleaning
// counter went up (a cleaning started from the printer's panel). The first
// time the station sees a printer it notes the counters as where it starts
// counting ("first_seen"): it cannot know an older cleaning.

const cleaningSchema = `
CREATE TABLE IF NOT EXISTS station_cleanings (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	printer        TEXT NOT NULL,
	at             TEXT NOT NULL,
	actor          TEXT NOT NULL,
	how            TEXT NOT NULL CHECK (how IN ('first_seen','cycle','by_hand','printer_counter')),
	cards_inserted INTEGER NOT NULL,
	cleanings      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS station_cleanings_printer ON station_cleanings(printer, id);
`

// How a cleaning was recorded.
const (
	CleanFirstSeen = "first_seen"      // not a cleaning: where the station started counting
	CleanCycle     = "cycle"           // the printer's cleaning cycle, run through the daemon
	CleanByHand    = "by_hand"         // a technician cleaned at the printer and recorded it
	CleanCounter   = "printer_counter" // the printer's own cleaning counter went up
)

// CleaningMark is a recorded cleaning; CleaningState a printer's place in
// the cleaning policy (localapi, the wire types).
type (
	CleaningMark  = localapi.CleaningMark
	CleaningState = localapi.CleaningState
)

var errNoCleaning = errors.New("no cleaning recorded")

// lastCleaning is the printer's last mark and the cleanings recorded;
// errNoCleaning when none. The engine is the only writer of the table, so
// the worker keeps them after the first read (no query per card).
func (e *Engine) lastCleaning(ctx context.Context, w *worker) (CleaningMark, int64, error) {
	w.mu.Lock()
	if w.cleanMark != nil {
		m, n := *w.cleanMark, w.cleanCount
		w.mu.Unlock()
		return m, n, nil
	}
	w.mu.Unlock()
	var m CleaningMark
	var at string
	err := e.db.QueryRowContext(ctx, `SELECT at, actor, how, cards_inserted, cleanings FROM station_cleanings WHERE printer = ? ORDER BY id DESC LIMIT 1`, w.name).
		Scan(&at, &m.Actor, &m.How, &m.CardsInserted, &m.Cleanings)
	if errors.Is(err, sql.ErrNoRows) {
		return m, 0, errNoCleaning
	}
	if err != nil {
		return m, 0, fmt.Errorf("printer %s: reading its cleanings: %w", w.name, err)
	}
	m.At, _ = time.Parse(time.RFC3339Nano, at)
	var n int64
	if err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_cleanings WHERE printer = ? AND how <> ?`, w.name, CleanFirstSeen).Scan(&n); err != nil {
		return m, 0, fmt.Errorf("printer %s: counting its cleanings: %w", w.name, err)
	}
	w.mu.Lock()
	w.cleanMark, w.cleanCount = &m, n
	w.mu.Unlock()
	return m, n, nil
}

// noteCleaning writes a mark and lets a printer the policy stopped go on.
func (e *Engine) noteCleaning(ctx context.Context, w *worker, actor, how string, ctr printer.Counters) (CleaningMark, error) {
	m := CleaningMark{At: time.Now().UTC(), Actor: actor, How: how, CardsInserted: ctr.CardsInserted, Cleanings: ctr.Cleanings}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO station_cleanings(printer, at, actor, how, cards_inserted, cleanings) VALUES (?,?,?,?,?,?)`,
		w.name, m.At.Format(time.RFC3339Nano), actor, how, m.CardsInserted, m.Cleanings); err != nil {
		return m, fmt.Errorf("printer %s: recording the cleaning: %w", w.name, err)
	}
	w.mu.Lock()
	if w.cleanMark != nil && how != CleanFirstSeen {
		w.cleanCount++
	}
	mc := m
	w.cleanMark = &mc
	w.mu.Unlock()
	if how == CleanFirstSeen {
		return m, nil
	}
	w.mu.Lock()
	w.cleanWarned = false
	stopped := w.cleanStop
	w.cleanStop = false
	if stopped && w.state == wPaused && w.code == PrinterCleaningDue {
		w.state, w.message, w.code = wIdle, "", ""
	}
	w.mu.Unlock()
	e.log.Info().Str("printer", w.name).Str("how", how).Int64("cards_inserted", ctr.CardsInserted).Msg("printer cleaning recorded")
	e.publish(Event{Type: "printer_cleaned", Printer: w.name, Message: fmt.Sprintf("cleaning recorded (%s) by %s at card counter %d", how, actor, ctr.CardsInserted)})
	w.poke()
	return m, nil
}

// cleaning is the printer's state in the policy for the counters ctr. The
// first reading of a printer is recorded as where counting starts; a rise
// of the printer's own cleaning counter is recorded as a cleaning.
func (e *Engine) cleaning(ctx context.Context, w *worker, ctr printer.Counters) (CleaningState, error) {
	pol := e.config().Engine
	cs := CleaningState{WarnAt: pol.CleanWarnCards, StopAt: pol.CleanStopCards, Since: -1}
	m, n, err := e.lastCleaning(ctx, w)
	switch {
	case errors.Is(err, errNoCleaning):
		if m, err = e.noteCleaning(ctx, w, e.ec.Actor, CleanFirstSeen, ctr); err != nil {
			return cs, err
		}
	case err != nil:
		return cs, err
	case ctr.Cleanings > m.Cleanings:
		if m, err = e.noteCleaning(ctx, w, "printer "+w.name, CleanCounter, ctr); err != nil {
			return cs, err
		}
		_, n, _ = e.lastCleaning(ctx, w)
	}
	cs.Last, cs.Recorded = &m, n
	cs.Since = ctr.CardsInserted - m.CardsInserted
	if cs.StopAt > 0 {
		cs.Soon = cs.Since >= int64(cs.WarnAt)
		cs.Due = cs.Since >= int64(cs.StopAt) || cs.Since < 0
	}
	return cs, nil
}

// cleaningStops applies the policy before a blank is fed, with the counters
// just read. It reports whether the printer must not take the blank; it
// has then paused the worker and said why.
func (w *worker) cleaningStops(ctx context.Context, ctr printer.Counters) bool {
	if w.e.config().Engine.CleanStopCards <= 0 {
		return false
	}
	cs, err := w.e.cleaning(ctx, w, ctr)
	if err != nil {
		w.offline(fmt.Sprintf("printer %s: the cleaning records cannot be read (%v): no blank is fed until they can; retried every few seconds", w.name, err))
		return true
	}
	switch {
	case cs.Since < 0:
		w.stopForCleaning(fmt.Sprintf("printer %s stopped: its card counter (%d) is below the one at its last cleaning (%d), so the cards since that cleaning are unknown (another printer under this name, or its counter was reset): clean it and record the cleaning (printstationctl diag printer --printer %s clean, or record-cleaning); it goes on by itself once the cleaning is recorded", w.name, ctr.CardsInserted, cs.Last.CardsInserted, w.name))
		return true
	case cs.Due:
		w.stopForCleaning(fmt.Sprintf("printer %s stopped for cleaning: %d cards since its last cleaning, the station's limit is %d (engine.clean_stop_cards): take the ribbon out, load a cleaning card and run the cleaning (printstationctl diag printer --printer %s clean, or the technician's page), or clean it by hand and record it (record-cleaning); it goes on by itself once the cleaning is recorded", w.name, cs.Since, cs.StopAt, w.name))
		return true
	case cs.Soon:
		w.mu.Lock()
		first := !w.cleanWarned
		w.cleanWarned = true
		w.mu.Unlock()
		if first {
			msg := fmt.Sprintf("printer %s: %d cards since its last cleaning; it stops for cleaning at %d (engine.clean_stop_cards): plan a cleaning", w.name, cs.Since, cs.StopAt)
			w.e.log.Warn().Str("printer", w.name).Int64("since", cs.Since).Msg(msg)
			w.e.publish(Event{Type: "printer_cleaning_soon", Printer: w.name, Message: msg})
		}
	}
	return false
}

func (w *worker) stopForCleaning(msg string) {
	w.pause(wPaused, msg)
	w.withCode(PrinterCleaningDue)
	w.mu.Lock()
	w.cleanStop = true
	w.mu.Unlock()
}

// cleaningStopped says whether the policy stopped the printer and no
// cleaning was recorded since.
func (w *worker) cleaningStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.cleanStop
}
