package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station/localapi"
	"printstation/storage"
)

// BatchState is one batch's line in the status report.
type BatchState = localapi.BatchState

// StockState is the ledger's stock in the status report.
type StockState = localapi.StockState

// Batches lists the batches with the engine's state and progress.
func (e *Engine) Batches(ctx context.Context) ([]BatchState, error) {
	bs, err := e.queue.Batches(ctx)
	if err != nil {
		return nil, err
	}
	states := map[string]string{}
	rows, err := e.db.QueryContext(ctx, `SELECT batch_id, state FROM station_batches`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id, st string
		if err := rows.Scan(&id, &st); err != nil {
			rows.Close()
			return nil, err
		}
		states[id] = st
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := []BatchState{}
	for _, b := range bs {
		s := BatchState{ID: b.ID, Total: b.Total, ByState: map[string]int{}}
		for st, n := range b.ByState {
			s.ByState[string(st)] = n
			if !st.Ended() && st != jobqueue.Refused {
				s.Remaining += n
			}
			if st == jobqueue.Uncertain || st == jobqueue.Attention {
				s.Waiting += n
			}
		}
		s.Printed = b.ByState[jobqueue.Printed]
		s.State = states[b.ID]
		if s.State == "" {
			s.State = "new"
		}
		if s.Remaining == 0 && s.State != "cancelled" {
			s.State = "done"
		}
		out = append(out, s)
	}
	return out, nil
}

// ErrNoBatch means the batch id is not known to the station.
var ErrNoBatch = errors.New("no such batch")

// ErrBatchCancelled means the batch was cancelled and stays so.
var ErrBatchCancelled = errors.New("batch was cancelled")

// SetBatch starts, pauses, resumes or cancels a batch for actor.
func (e *Engine) SetBatch(ctx context.Context, id, action, actor string) error {
	bs, err := e.queue.Batches(ctx)
	if err != nil {
		return err
	}
	found := false
	for _, b := range bs {
		found = found || b.ID == id
	}
	if !found {
		return fmt.Errorf("batch %q: %w (printstationctl batch list shows the batches on this station)", id, ErrNoBatch)
	}
	var state string
	switch action {
	case "start", "resume":
		state = "started"
	case "pause":
		state = "paused"
	case "cancel":
		state = "cancelled"
	default:
		return fmt.Errorf("batch action %q: expected start, pause, resume or cancel", action)
	}
	err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		var cur string
		if err := tx.QueryRowContext(ctx, `SELECT state FROM station_batches WHERE batch_id=?`, id).Scan(&cur); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if cur == batchCancelled {
			return fmt.Errorf("batch %s: %w; it cannot be %sed", id, ErrBatchCancelled, action)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO station_batches(batch_id, state, actor, updated_at) VALUES (?,?,?,?)
			ON CONFLICT(batch_id) DO UPDATE SET state=excluded.state, actor=excluded.actor, updated_at=excluded.updated_at`, id, state, actor, now()); err != nil {
			return err
		}
		if state != "cancelled" {
			return nil
		}
		// Cancelling takes the waiting jobs out; a card in a printer is
		// finished and counted.
		jobs, err := e.queue.Jobs(ctx, id, jobqueue.Queued, jobqueue.Received, jobqueue.Attention, jobqueue.SpoiledWaiting)
		if err != nil {
			return err
		}
		for _, j := range jobs {
			if err := e.queue.SetState(ctx, tx, j.ID, jobqueue.Cancelled, "batch cancelled by "+actor); err != nil && !errors.Is(err, jobqueue.ErrIllegalTransition) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.log.Info().Str("batch", id).Str("action", action).Str("actor", actor).Msg("batch " + state)
	e.publish(Event{Type: "batch_" + state, Batch: id, Message: "by " + actor})
	e.kick()
	return nil
}

// ResumePrinter lets a paused printer go on after a person fixed it.
func (e *Engine) ResumePrinter(name string) error {
	w := e.byName[name]
	if w == nil {
		return fmt.Errorf("no printer named %q on this station", name)
	}
	w.resume()
	e.publish(Event{Type: "printer_resumed", Printer: name})
	return nil
}

// Stock reads the ledger's stock.
func (e *Engine) Stock(ctx context.Context) (*StockState, error) {
	s, err := e.ledger.Stock(ctx)
	if err != nil {
		return nil, err
	}
	st := &StockState{Storage: s.Storage, Printers: s.Printers, Consumed: s.Consumed, SpoiledAwaiting: s.SpoiledAwaiting, Low: s.Low}
	st.Available = s.Available
	if f, err := e.ledger.Forecast(ctx, 7); err == nil {
		st.LowAt, st.PerDay, st.ForecastDays = f.LowAtBelow, f.PerDay, f.Days
		if f.Used > 0 && f.DaysLeft >= 0 {
			// The ledger says -1 when nothing was used: no estimate.
			st.DaysLeft = f.DaysLeft
		}
	}
	return st, nil
}

// StockOp records a stock operation by a person (receive, load, unload).
type StockOp = localapi.StockOp

// destroyable checks that each UID of a destruction names a spoiled card
// that awaits destruction, each card once: the ledger takes any
// well-formed UID, and a card destroyed already, never spoiled or listed
// twice would count as destroyed and be named on the berita acara. It
// replays the spoiled and destroyed events (a destruction is rare; half a
// second on a million events).
func (e *Engine) destroyable(ctx context.Context, uids []string) error {
	sp, err := inventory.SpoiledAndDestroyed(ctx, e.db)
	if err != nil {
		return fmt.Errorf("destroy: the spoiled cards could not be read to check the UIDs: %w", err)
	}
	waiting := map[string]int{}
	for _, c := range sp.Awaiting {
		if c.UID != inventory.UIDUnknown {
			waiting[strings.ToUpper(c.UID)]++
		}
	}
	for _, u := range uids {
		k := strings.ToUpper(strings.TrimSpace(u))
		if waiting[k] == 0 {
			return fmt.Errorf("destroy: card %s is not waiting for destruction (destroyed already, never recorded as spoiled, or listed twice): list only spoiled cards that await destruction (the auditor's spoiled-cards screen lists them)", k)
		}
		waiting[k]--
	}
	return nil
}

// RecordStock appends a person's stock operation to the ledger.
func (e *Engine) RecordStock(ctx context.Context, op StockOp) (inventory.Entry, error) {
	ev := inventory.Event{Actor: op.Actor, Quantity: op.Quantity, Printer: op.Printer}
	switch op.Op {
	case "receive":
		ev.Kind, ev.DeliveryRef, ev.SerialFirst, ev.SerialLast = inventory.Received, op.DeliveryRef, op.SerialFirst, op.SerialLast
	case "load":
		ev.Kind = inventory.Loaded
	case "unload":
		ev.Kind = inventory.Unloaded
	case "destroy":
		ev.Kind, ev.UIDs, ev.Witnesses, ev.RecordRef = inventory.Destroyed, op.UIDs, op.Witnesses, op.RecordRef
	case "adjust":
		ev.Kind, ev.Approvers, ev.Location, ev.Reason = inventory.Adjusted, op.Approvers, op.Location, op.Reason
	case "shift-close":
		ev.Kind, ev.Witnesses, ev.Counted = inventory.ShiftClosed, op.Witnesses, op.Counted
	default:
		return inventory.Entry{}, fmt.Errorf("stock operation %q: expected receive, load, unload, destroy, adjust or shift-close", op.Op)
	}
	if op.Op == "shift-close" {
		// The shift's end is also when the printers' own counters go in
		// the ledger, for the auditor's comparison.
		e.recordCounters(ctx)
	}
	if (op.Op == "load" || op.Op == "unload") && e.byName[op.Printer] == nil {
		return inventory.Entry{}, fmt.Errorf("no printer named %q on this station", op.Printer)
	}
	if op.Op == "destroy" && len(op.UIDs) > 0 {
		if err := e.destroyable(ctx, op.UIDs); err != nil {
			return inventory.Entry{}, err
		}
	}
	en, err := e.ledger.Record(ctx, ev)
	if err != nil {
		return en, err
	}
	e.publish(Event{Type: "stock_" + op.Op, Printer: op.Printer, Message: fmt.Sprintf("%d by %s", op.Quantity, op.Actor)})
	if op.Op == "load" {
		if w := e.byName[op.Printer]; w != nil {
			w.resumeAfterLoad()
		}
	}
	return en, nil
}

func (e *Engine) fillStatus(ctx context.Context, st *StatusReport) {
	st.Line = e.StatusLine()
	for _, w := range e.workers {
		ps := w.snapshot()
		st.Printers = append(st.Printers, ps)
	}
	if bs, err := e.Batches(ctx); err == nil {
		st.Batches = bs
	}
	st.Queue = map[string]int{}
	if jobs, err := e.queue.Batches(ctx); err == nil {
		for _, b := range jobs {
			for s, n := range b.ByState {
				st.Queue[string(s)] += n
			}
		}
	}
	if s, err := e.Stock(ctx); err == nil {
		st.Stock = s
		for i := range st.Printers {
			st.Printers[i].Loaded = s.Printers[st.Printers[i].Name]
		}
	}
	st.Central = e.centralState()
	sort.SliceStable(st.Batches, func(i, j int) bool { return st.Batches[i].ID < st.Batches[j].ID })
}

// Retry moves on a job that waits for a person and can go on without a
// card decision: a job put aside goes back to the queue with a fresh
// attempt bound; a job marked printing that no printer holds goes back; an
// uncertain job whose printer did not answer gets the counter check again.
// An uncertain card that was fed is confirmed or spoiled, never retried.
func (e *Engine) Retry(ctx context.Context, jobID, actor string) error {
	meta, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return err
	}
	// The counter check below drives the job's printer: hold it.
	if _, pr, res, _, _, err := e.uncertainIntent(ctx, jobID); err == nil && res == outOpen {
		if w := e.byName[pr]; w != nil {
			if err := e.holdPrinter(ctx, w); err != nil {
				return err
			}
			defer w.release()
		}
	}
	switch {
	case meta.State == jobqueue.Attention:
	case (meta.State == jobqueue.Printing || meta.State == jobqueue.SpoiledWaiting) && !e.holding(jobID):
		if _, _, _, _, _, err := e.uncertainIntent(ctx, jobID); err == nil {
			// A card is open for it: the counter decides, not the person.
			_, _, _, _, err := e.settleOpenFirst(ctx, jobID)
			if errors.Is(err, ErrNotWaiting) {
				e.kick()
				return nil
			}
			return err
		}
	case meta.State == jobqueue.Uncertain:
		_, _, res, _, _, err := e.uncertainIntent(ctx, jobID)
		if err != nil {
			return err
		}
		if res != outOpen {
			return fmt.Errorf("job %s: a blank was fed for it, so its card is confirmed (printstationctl attention confirm %s) or spoiled (printstationctl attention spoil %s), not retried: %w", jobID, jobID, jobID, ErrNotWaiting)
		}
		_, _, _, _, err = e.settleOpenFirst(ctx, jobID)
		if errors.Is(err, ErrNotWaiting) {
			e.kick() // no blank was fed: it is queued again
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("job %s: the printer's counter shows a blank was fed; confirm or spoil its card: %w", jobID, ErrNotWaiting)
	default:
		return fmt.Errorf("job %s is %s: %w (retry is for jobs in the attention list)", jobID, meta.State, ErrNotWaiting)
	}
	// The attempt bound counts spoiled blanks; a person's retry gives the
	// job a fresh bound, recorded as who decided it.
	err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		for from, r := range intentMachine {
			if !r.attempt {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolution=? WHERE job_id=? AND resolution=?`, string(r.next[0]), jobID, string(from)); err != nil {
				return err
			}
		}
		return e.requeue(ctx, tx, meta, "retry by "+actor)
	})
	if err == nil {
		e.kick()
	}
	return err
}
