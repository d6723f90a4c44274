package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"printstation/chip"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/station/localapi"
	"printstation/storage"
)

// recover applies the crash rule at start: every open intent is settled by
// comparing the printer's card counter now with the one written before the
// feed. No feed: the job simply goes back. A feed: the job is uncertain and
// waits for a person. The engine never prints a second card on its own.
func (e *Engine) recover(ctx context.Context) error {
	rows, err := e.db.QueryContext(ctx, `SELECT id, job_id, printer, counter_before FROM station_intents WHERE resolved_at IS NULL ORDER BY id`)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	type open struct {
		id      int64
		job, pr string
		before  int64
	}
	var opens []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.job, &o.pr, &o.before); err != nil {
			rows.Close()
			return err
		}
		opens = append(opens, o)
	}
	rows.Close()

	for _, o := range opens {
		if e.recoverDesk(ctx, o.id, o.job, o.pr) {
			continue
		}
		w := e.byName[o.pr]
		if w == nil {
			// The printer left the config: a person must settle it.
			e.settleUncertain(ctx, o.id, o.job, WaitFeedUnknown, fmt.Sprintf("printer %s is no longer configured; whether a blank was fed is unknown: confirm or spoil", o.pr))
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		ctr, err := w.p.Counters(cctx)
		cancel()
		if err != nil {
			// Cannot read the counter: do not guess. The job waits for a
			// person, who sees why.
			e.settleUncertain(ctx, o.id, o.job, WaitFeedUnknown, fmt.Sprintf("printer %s did not answer at start (%v), so whether a blank was fed before the restart is unknown: check the printer, then confirm or spoil", o.pr, err))
			continue
		}
		if ctr.CardsInserted == o.before {
			err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolved_at=?, resolution='not_fed' WHERE id=?`, now(), o.id); err != nil {
					return err
				}
				return e.queue.SetState(ctx, tx, o.job, jobqueue.Queued, "restart: no blank was fed")
			})
			if err != nil && !errors.Is(err, jobqueue.ErrIllegalTransition) {
				return fmt.Errorf("recovery of job %s: %w", o.job, err)
			}
			e.log.Info().Str("job", o.job).Str("printer", o.pr).Msg("restart: no blank was fed; job back in the queue")
			continue
		}
		msg := fmt.Sprintf("a blank was fed on printer %s before the restart (card counter %d → %d): find the card; confirm it (its chip is read back) or spoil it", o.pr, o.before, ctr.CardsInserted)
		e.settleUncertain(ctx, o.id, o.job, WaitFedBeforeRestart, msg)
		w.setCode("attention", PrinterUncertainRestart, "job "+o.job+" is uncertain after a restart: printstationctl attention list", "")
	}

	// Jobs claimed but never fed (prepared for the next card) go back.
	jobs, err := e.queue.Jobs(ctx, "", jobqueue.Printing, jobqueue.SpoiledWaiting)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	for _, j := range jobs {
		var open int
		e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_intents WHERE job_id=? AND (resolved_at IS NULL OR resolution='uncertain')`, j.ID).Scan(&open)
		if open > 0 {
			continue
		}
		if err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
			return e.queue.SetState(ctx, tx, j.ID, jobqueue.Queued, "restart: back in the queue")
		}); err != nil {
			return fmt.Errorf("recovery of job %s: %w", j.ID, err)
		}
	}
	return nil
}

func (e *Engine) settleUncertain(ctx context.Context, intent int64, job, code, msg string) {
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolved_at=?, resolution='uncertain' WHERE id=?`, now(), intent); err != nil {
			return err
		}
		return e.queue.SetStateDetail(ctx, tx, job, jobqueue.Uncertain, jobqueue.Detail{Reason: msg, Code: code})
	})
	if err != nil {
		e.log.Error().Err(err).Str("job", job).Msg("marking a job uncertain failed")
	}
	e.log.Warn().Str("job", job).Msg(msg)
	e.publish(Event{Type: "job_uncertain", Job: job, Message: msg})
}

// Attention is a job that waits for a person.
type Attention = localapi.Attention

// AttentionList lists the jobs that wait for a person.
func (e *Engine) AttentionList(ctx context.Context) ([]Attention, error) {
	jobs, err := e.queue.Jobs(ctx, "", jobqueue.Uncertain, jobqueue.Attention)
	if err != nil {
		return nil, err
	}
	out := []Attention{}
	for _, j := range jobs {
		a := Attention{Job: j.ID, Batch: j.Batch, State: string(j.State), Reason: j.Reason, Code: string(j.Code)}
		e.db.QueryRowContext(ctx, `SELECT printer FROM station_intents WHERE job_id=? ORDER BY id DESC LIMIT 1`, j.ID).Scan(&a.Printer)
		out = append(out, a)
	}
	return out, nil
}

// ErrNotWaiting means the job does not wait for a person.
var ErrNotWaiting = errors.New("job does not wait for a person")

// Why a confirmation was refused (the page words each).
var (
	ErrCardInside      = errors.New("card still inside the printer")
	ErrNoCardAtEncoder = errors.New("no card at the encoder")
	ErrChipMismatch    = errors.New("the card's chip does not match job")
)

// Confirm settles an uncertain job as printed: the finished card's chip is
// read back at the printer's encoder and compared with the job's data first.
// A card still inside the printer cannot be confirmed: it is spoiled.
func (e *Engine) Confirm(ctx context.Context, jobID, actor string) (string, error) {
	meta, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return "", err
	}
	if meta.State != jobqueue.Uncertain {
		return "", fmt.Errorf("job %s is %s: %w (only an uncertain job can be confirmed; use retry or cancel for others)", jobID, meta.State, ErrNotWaiting)
	}
	var intent int64
	var pr string
	if err := e.db.QueryRowContext(ctx, `SELECT id, printer FROM station_intents WHERE job_id=? AND resolution='uncertain' ORDER BY id DESC LIMIT 1`, jobID).Scan(&intent, &pr); err != nil {
		return "", fmt.Errorf("job %s: no uncertain card on record: %w", jobID, err)
	}
	w := e.byName[pr]
	if w == nil {
		return "", fmt.Errorf("printer %s of job %s is not configured: the card cannot be checked here", pr, jobID)
	}
	w.busy.Store(true)
	defer w.busy.Store(false)
	p, err := e.prepare(ctx, meta, pr)
	if err != nil {
		return "", err
	}
	// A card that never left the printer is unfinished by definition (the
	// crash came before the eject, and whether its face was printed is
	// unknown): it is spoiled, never confirmed.
	if st, err := w.p.Status(ctx); err == nil && st.Card != printer.PositionNone && st.Card != 0 {
		return "", fmt.Errorf("the card of job %s is still inside printer %s (%s), so it was never finished: %w: spoil it (printstationctl attention spoil %s); the printer moves it to the reject box", jobID, pr, st.Card, ErrCardInside, jobID)
	}
	var uid []byte
	if p.hasChp {
		if w.enc == nil {
			return "", fmt.Errorf("printer %s has no encoder: the chip cannot be checked", pr)
		}
		// The person holds the finished card to the encoder's reader; its
		// chip must hold exactly this job's data.
		cctx, cancel := context.WithTimeout(ctx, time.Duration(e.config().Engine.ChipTimeoutSeconds)*time.Second)
		res, err := w.enc.Verify(cctx, p.perso)
		cancel()
		switch {
		case errors.Is(err, chip.ErrNoCard):
			return "", fmt.Errorf("%w of printer %s: hold the card of job %s to it, then confirm again", ErrNoCardAtEncoder, pr, jobID)
		case err != nil:
			return "", fmt.Errorf("%w %s (%v): spoil it instead (printstationctl attention spoil %s)", ErrChipMismatch, jobID, err, jobID)
		}
		uid = res.UID
		// A desk card must be the very card written for the job.
		if want, _, desk := e.deskIntent(ctx, intent); desk && want != uidText(uid) {
			return "", fmt.Errorf("the card on the reader is not the card written for job %s: tap that card, or spoil the job's card (printstationctl attention spoil %s)", jobID, jobID)
		}
	}
	err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Consumed, Actor: actor, Printer: pr, Job: jobID, UID: uidText(uid)}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolution='uncertain_confirmed', uid=? WHERE id=?`, uidText(uid), intent); err != nil {
			return err
		}
		return e.queue.SetState(ctx, tx, jobID, jobqueue.Printed, "confirmed by "+actor)
	})
	if err != nil {
		return "", err
	}
	w.mu.Lock()
	w.printed++
	w.mu.Unlock()
	w.resume()
	e.publish(Event{Type: "card_confirmed", Job: jobID, Printer: pr, UID: uidText(uid), Message: "confirmed by " + actor})
	return uidText(uid), nil
}

// Spoil settles an uncertain job's card as spoiled; the job goes back to
// the queue because a person, not the engine, decided a new blank is due.
func (e *Engine) Spoil(ctx context.Context, jobID, actor string) error {
	meta, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return err
	}
	if meta.State != jobqueue.Uncertain {
		return fmt.Errorf("job %s is %s: %w", jobID, meta.State, ErrNotWaiting)
	}
	var intent int64
	var pr string
	if err := e.db.QueryRowContext(ctx, `SELECT id, printer FROM station_intents WHERE job_id=? AND resolution='uncertain' ORDER BY id DESC LIMIT 1`, jobID).Scan(&intent, &pr); err != nil {
		return fmt.Errorf("job %s: no uncertain card on record: %w", jobID, err)
	}
	if w := e.byName[pr]; w != nil {
		if st, err := w.p.Status(ctx); err == nil && st.Card != printer.PositionNone && st.Card != 0 {
			if err := w.p.Reject(ctx); err != nil {
				return fmt.Errorf("moving the card to the reject box: %w (take it out by hand, then spoil again)", err)
			}
		}
		defer w.resume()
	}
	spoilUID, reason := inventory.UIDUnknown, inventory.ReasonCrashUnconfirmed
	if u, r, desk := e.deskIntent(ctx, intent); desk {
		// The desk flow knows the card's UID and why it is in doubt.
		spoilUID, reason = u, r
	}
	err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: actor, Printer: pr, Job: jobID, UID: spoilUID, Reason: reason}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolution='uncertain_spoiled' WHERE id=?`, intent); err != nil {
			return err
		}
		if err := e.queue.SetState(ctx, tx, jobID, jobqueue.SpoiledWaiting, "spoiled by "+actor); err != nil {
			return err
		}
		return e.queue.SetState(ctx, tx, jobID, jobqueue.Queued, "back in the queue after "+actor+" spoiled the uncertain card")
	})
	if err != nil {
		return err
	}
	// The printer's row counts the card a person spoiled as it counts the
	// ones the engine spoiled.
	if w := e.byName[pr]; w != nil {
		w.mu.Lock()
		w.spoiled++
		w.mu.Unlock()
	}
	e.publish(Event{Type: "card_spoiled", Job: jobID, Printer: pr, Message: "uncertain card spoiled by " + actor})
	e.kick()
	return nil
}
