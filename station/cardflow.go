package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"printstation/jobqueue"
	"printstation/printer"
	"printstation/storage"
)

// Batch states as people set them (station_batches.state).
const (
	batchStarted   = "started"
	batchPaused    = "paused"
	batchCancelled = "cancelled"
)

// batchState reads a batch's state; a batch nobody started is "new".
func (e *Engine) batchState(ctx context.Context, batch string) (string, error) {
	var st string
	err := e.db.QueryRowContext(ctx, `SELECT state FROM station_batches WHERE batch_id=?`, batch).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return "new", nil
	}
	return st, err
}

// requeue returns a job that no blank is in flight for to the queue, in tx;
// when its batch was cancelled meanwhile the job is cancelled instead, so no
// job is left queued in a batch that will never run again. A job that ended
// meanwhile (cancelled, revoked) stays ended.
func (e *Engine) requeue(ctx context.Context, tx *sql.Tx, job jobqueue.JobMeta, why string) error {
	if err := e.queue.SetState(ctx, tx, job.ID, jobqueue.Queued, why); err != nil {
		var te *jobqueue.TransitionError
		switch {
		case errors.As(err, &te) && te.From.Ended():
			return nil
		case errors.As(err, &te) && te.From == jobqueue.Uncertain:
			// The queue lets an uncertain job go back only through a
			// decision (attention): here the counter decided, in the
			// same transaction.
			if err := e.queue.SetState(ctx, tx, job.ID, jobqueue.Attention, why); err != nil {
				return err
			}
			if err := e.queue.SetState(ctx, tx, job.ID, jobqueue.Queued, why); err != nil {
				return err
			}
		default:
			return err
		}
	}
	var st string
	err := tx.QueryRowContext(ctx, `SELECT state FROM station_batches WHERE batch_id=?`, job.Batch).Scan(&st)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if st == batchCancelled {
		return e.queue.SetState(ctx, tx, job.ID, jobqueue.Cancelled, "batch cancelled; no blank was fed for it")
	}
	return nil
}

// toAttention puts a job aside for a person with the reason.
func (e *Engine) toAttention(ctx context.Context, job jobqueue.JobMeta, printerName, reason string) {
	defer e.unhold(job.ID, printerName)
	ctx = context.WithoutCancel(ctx)
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		return e.queue.SetStateDetail(ctx, tx, job.ID, jobqueue.Attention, jobqueue.Detail{Reason: reason, Printer: printerName})
	})
	if err != nil {
		e.log.Error().Err(err).Str("job", job.ID).Msg("putting a job aside for a person failed; the attention list shows it as stuck")
	}
	e.publish(Event{Type: "job_attention", Job: job.ID, Batch: job.Batch, Printer: printerName, Message: reason})
}

// hold and unhold track the jobs a worker has in hand (claimed, prepared or
// in the printer), so the attention list can show a job marked printing
// that no worker holds as stuck, instead of hiding it.
func (e *Engine) hold(job, printerName string) { e.held.Store(job, printerName) }

// unhold lets go of a job; a worker only lets go of its own (the job may
// have gone back to the queue and on to another printer meanwhile).
func (e *Engine) unhold(job string, printerName string) { e.held.CompareAndDelete(job, printerName) }
func (e *Engine) holding(job string) bool {
	_, ok := e.held.Load(job)
	return ok
}

// boundReason says why a job reached its attempt bound, naming the cause:
// blanks a person spoiled after a crash or a lost link say nothing about
// the card or the printer.
func (e *Engine) boundReason(ctx context.Context, job string, n, max int) string {
	var byPerson int
	if err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_intents WHERE job_id=? AND resolution=?`, job, string(outUncertainSpoiled)).Scan(&byPerson); err != nil {
		return fmt.Sprintf("%d blanks spoiled for this job (the bound is %d); their causes could not be read (%v): check the ledger (printstationctl audit), then retry or cancel it", n, max, err)
	}
	switch {
	case byPerson == n:
		return fmt.Sprintf("%d blanks spoiled for this job (the bound is %d), all settled by a person after a crash or a lost printer link, not failures of the card: retry it (printstationctl attention retry %s)", n, max, job)
	case byPerson > 0:
		return fmt.Sprintf("%d blanks spoiled for this job (the bound is %d): %d by the printer or chip, %d settled by a person after a crash or lost link: check the printer and the chip data, then retry or cancel it", n, max, n-byPerson, byPerson)
	}
	return fmt.Sprintf("%d blanks spoiled for this job by the printer or chip (the bound is %d): check the printer and the chip data, then retry or cancel it", n, max)
}

// markUnknown records that whether a blank left the feeder for an open
// intent is unknown (the printer does not answer): the intent stays open,
// the job is shown as uncertain with the reason, and the counter check
// (checkOpen) settles it when the printer answers.
func (e *Engine) markUnknown(ctx context.Context, intent int64, job jobqueue.JobMeta, printerName, note string) {
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET note=? WHERE id=? AND resolved_at IS NULL`, note, intent); err != nil {
			return err
		}
		return e.toUncertain(ctx, tx, job.ID, note)
	})
	e.unhold(job.ID, printerName)
	if err != nil {
		e.log.Error().Err(err).Str("job", job.ID).Msg("marking a job uncertain failed; the attention list shows it as stuck")
	}
	e.log.Warn().Str("job", job.ID).Msg(note)
	e.publish(Event{Type: "job_uncertain", Job: job.ID, Message: note})
}

// toUncertain moves a job to uncertain unless it is there already.
func (e *Engine) toUncertain(ctx context.Context, tx *sql.Tx, job, reason string) error {
	err := e.queue.SetState(ctx, tx, job, jobqueue.Uncertain, reason)
	var te *jobqueue.TransitionError
	if errors.As(err, &te) && te.From == jobqueue.Uncertain {
		return nil
	}
	return err
}

type openIntent struct {
	id      int64
	job, pr string
	before  int64
}

func (e *Engine) openIntents(ctx context.Context, printerName string) ([]openIntent, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT id, job_id, printer, counter_before FROM station_intents
		WHERE resolved_at IS NULL AND (? = '' OR printer = ?) ORDER BY id`, printerName, printerName)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []openIntent
	for rows.Next() {
		var o openIntent
		if err := rows.Scan(&o.id, &o.job, &o.pr, &o.before); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// checkOpen is the crash rule's counter check, the same after a daemon
// restart and after a printer came back: every open intent of w's printer
// is settled by comparing the printer's card counter now with the one
// written before the feed. No blank fed: the job goes back to the queue.
// A blank fed: the job is uncertain and waits for a person. The counter
// unreadable: nothing is guessed; the job shows as uncertain and the open
// intents are counted in the first result. The second result counts the
// jobs that became uncertain now.
func (e *Engine) checkOpen(ctx context.Context, w *worker, when string) (unsettled, uncertain int, err error) {
	all, err := e.openIntents(ctx, w.name)
	if err != nil {
		return len(all), 0, err
	}
	var opens []openIntent
	for _, o := range all {
		// A desk card has no feeder counter: the desk flow's own recovery
		// rules settle it, as at a restart.
		if !e.recoverDesk(ctx, o.id, o.job, w.name) {
			opens = append(opens, o)
		}
	}
	if len(opens) == 0 {
		return 0, 0, nil
	}
	cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	ctr, cerr := w.p.Counters(cctx)
	cancel()
	for _, o := range opens {
		meta, err := e.queue.Meta(ctx, o.job)
		if err != nil {
			return len(opens), uncertain, fmt.Errorf("job %s of an open card on %s: %w", o.job, w.name, err)
		}
		if cerr != nil {
			e.markUnknown(ctx, o.id, meta, w.name, fmt.Sprintf("printer %s does not answer (%v), so whether a blank was fed for this job before %s is unknown: the station reads its card counter when it answers again; then the job is queued again or you are asked to find the card", w.name, cerr, when))
			continue
		}
		if ctr.CardsInserted == o.before {
			err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				if err := resolveIntent(ctx, tx, o.id, outOpen, outNotFed, ""); err != nil {
					return err
				}
				return e.requeue(ctx, tx, meta, when+": the printer's counter shows no blank was fed")
			})
			if err != nil {
				return len(opens), uncertain, fmt.Errorf("settling job %s: %w", o.job, err)
			}
			e.log.Info().Str("job", o.job).Str("printer", w.name).Msg(when + ": no blank was fed; job back in the queue")
			continue
		}
		msg := fmt.Sprintf("a blank was fed for this job on printer %s before %s (card counter %d → %d): find the card; confirm it (its chip is read back) or spoil it", w.name, when, o.before, ctr.CardsInserted)
		if err := e.settleUncertain(ctx, o.id, o.job, w.name, msg); err != nil {
			return len(opens), uncertain, err
		}
		uncertain++
	}
	if cerr != nil {
		return len(opens), uncertain, fmt.Errorf("%w: %w", errCounterUnreadable, cerr)
	}
	return 0, uncertain, nil
}

// settleUncertain settles an open intent as uncertain: a blank was fed (or
// may have been, with its printer gone from the config) and only a person
// can say whether its card is good.
func (e *Engine) settleUncertain(ctx context.Context, intent int64, job, printerName, msg string) error {
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := resolveIntent(ctx, tx, intent, outOpen, outUncertain, ""); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET note=? WHERE id=?`, msg, intent); err != nil {
			return err
		}
		return e.toUncertain(ctx, tx, job, msg)
	})
	if err != nil {
		return fmt.Errorf("marking job %s uncertain: %w", job, err)
	}
	e.log.Warn().Str("job", job).Str("printer", printerName).Msg(msg)
	e.publish(Event{Type: "job_uncertain", Job: job, Printer: printerName, Message: msg})
	return nil
}

// cardInsideMessage says what a card inside a printer that no card is in
// flight on is, from the intent records: the uncertain card of a job, a
// card the ledger already counted as spoiled, or a card the ledger has no
// record of. It never claims a count the ledger does not have.
func (e *Engine) cardInsideMessage(ctx context.Context, printerName string, pos printer.Position) string {
	var job string
	err := e.db.QueryRowContext(ctx, `SELECT job_id FROM station_intents WHERE printer=? AND resolution=? ORDER BY id DESC LIMIT 1`, printerName, string(outUncertain)).Scan(&job)
	if err == nil {
		return fmt.Sprintf("printer %s has a card inside (%s), most likely the uncertain card of job %s: spoil it (printstationctl attention spoil %s; the printer moves it to the reject box), or take it out and confirm it at the reader if it is finished; then resume (printstationctl printer resume %s)", printerName, pos, job, job, printerName)
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Sprintf("printer %s has a card inside (%s) and the station cannot read its records (%v): take the card out, keep it aside, tell a supervisor, then resume", printerName, pos, err)
	}
	var res sql.NullString
	err = e.db.QueryRowContext(ctx, `SELECT job_id, resolution FROM station_intents WHERE printer=? ORDER BY id DESC LIMIT 1`, printerName).Scan(&job, &res)
	if err == nil && intentMachine[outcome(res.String)].spoiled {
		return fmt.Sprintf("printer %s has a card inside (%s): the last blank of this printer (job %s) is counted as spoiled in the ledger already and could not be moved to the reject box: open the printer, take the card out, put it with the spoiled cards, then resume (printstationctl printer resume %s)", printerName, pos, job, printerName)
	}
	last := "no card on record"
	if err == nil {
		last = fmt.Sprintf("its last card, job %s, was recorded as %s", job, res.String)
	}
	return fmt.Sprintf("printer %s has a card inside (%s) that no job is waiting for and the ledger has not counted (%s): take it out, keep it aside and tell a supervisor (a stock adjustment may be due), then resume (printstationctl printer resume %s)", printerName, pos, last, printerName)
}
