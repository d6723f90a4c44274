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

// errCounterUnreadable means the printer's card counter could not be read,
// so open intents stay open (and their jobs show as uncertain).
var errCounterUnreadable = errors.New("the printer's card counter cannot be read")

// recover applies the crash rule at start: every open intent is settled by
// the same counter check a worker runs when its printer comes back
// (checkOpen). The engine never prints a second card on its own.
func (e *Engine) recover(ctx context.Context) error {
	opens, err := e.openIntents(ctx, "")
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	for _, o := range opens {
		if e.recoverDesk(ctx, o.id, o.job, o.pr) {
			continue
		}
		if e.byName[o.pr] != nil {
			continue
		}
		// The printer left the config: a person must settle it.
		if err := e.settleUncertain(ctx, o.id, o.job, o.pr, fmt.Sprintf("printer %s is no longer configured; whether a blank was fed is unknown: confirm or spoil", o.pr)); err != nil {
			return fmt.Errorf("recovery: %w", err)
		}
	}
	for _, w := range e.workers {
		_, uncertain, err := e.checkOpen(ctx, w, "the restart")
		if err != nil && !errors.Is(err, errCounterUnreadable) {
			return fmt.Errorf("recovery: %w", err)
		}
		if uncertain > 0 {
			w.set(wAttention, fmt.Sprintf("%d job(s) uncertain after a restart: printstationctl attention list", uncertain), "")
			w.withCode(PrinterUncertainRestart)
		}
	}

	// Jobs claimed but never fed (prepared for the next card) go back.
	jobs, err := e.queue.Jobs(ctx, "", jobqueue.Printing, jobqueue.SpoiledWaiting)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	for _, j := range jobs {
		var open int
		if err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_intents WHERE job_id=? AND (resolved_at IS NULL OR resolution=?)`, j.ID, string(outUncertain)).Scan(&open); err != nil {
			return fmt.Errorf("recovery of job %s: %w", j.ID, err)
		}
		if open > 0 {
			continue
		}
		if err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
			return e.requeue(ctx, tx, j, "restart: back in the queue")
		}); err != nil {
			return fmt.Errorf("recovery of job %s: %w", j.ID, err)
		}
	}
	return nil
}

// Attention is a job that waits for a person.
type Attention = localapi.Attention

// AttentionList lists every job that is not moving by itself: uncertain
// cards, jobs put aside, and jobs marked printing or spoiled that no
// printer has in hand (which retry puts back in the queue).
func (e *Engine) AttentionList(ctx context.Context) ([]Attention, error) {
	jobs, err := e.queue.Jobs(ctx, "", jobqueue.Uncertain, jobqueue.Attention, jobqueue.Printing, jobqueue.SpoiledWaiting)
	if err != nil {
		return nil, err
	}
	out := []Attention{}
	for _, j := range jobs {
		stuck := j.State == jobqueue.Printing || j.State == jobqueue.SpoiledWaiting
		if stuck && e.holding(j.ID) {
			continue // a worker has it: it is moving
		}
		a := Attention{Job: j.ID, Batch: j.Batch, State: string(j.State), Reason: j.Reason, Code: string(j.Code)}
		var note sql.NullString
		err := e.db.QueryRowContext(ctx, `SELECT printer, note FROM station_intents WHERE job_id=? ORDER BY id DESC LIMIT 1`, j.ID).Scan(&a.Printer, &note)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		if j.State == jobqueue.Uncertain && note.String != "" {
			a.Reason = note.String
		}
		if stuck {
			a.Reason = fmt.Sprintf("marked %s but no printer has it in hand (last: %s): retry puts it back in the queue (printstationctl attention retry %s)", j.State, j.Reason, j.ID)
		}
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

// uncertainIntent is the latest intent of an uncertain job: settled as
// uncertain, or still open (its printer did not answer yet).
func (e *Engine) uncertainIntent(ctx context.Context, jobID string) (id int64, pr string, res outcome, spoilAs, uid string, err error) {
	var r, sa, u sql.NullString
	err = e.db.QueryRowContext(ctx, `SELECT id, printer, resolution, spoil_reason, uid FROM station_intents
		WHERE job_id=? AND (resolved_at IS NULL OR resolution=?) ORDER BY id DESC LIMIT 1`, jobID, string(outUncertain)).Scan(&id, &pr, &r, &sa, &u)
	if err != nil {
		return 0, "", "", "", "", fmt.Errorf("job %s: no uncertain card on record: %w", jobID, err)
	}
	return id, pr, outcome(r.String), sa.String, u.String, nil
}

// settleOpenFirst runs the counter check for an uncertain job whose intent
// is still open, before a person's decision: if no blank was fed, there is
// nothing to decide. It returns the intent as it stands afterwards.
func (e *Engine) settleOpenFirst(ctx context.Context, jobID string) (id int64, pr string, spoilAs, uid string, err error) {
	id, pr, res, spoilAs, uid, err := e.uncertainIntent(ctx, jobID)
	if err != nil || res != outOpen {
		return id, pr, spoilAs, uid, err
	}
	w := e.byName[pr]
	if w == nil {
		return 0, "", "", "", fmt.Errorf("printer %s of job %s is not configured", pr, jobID)
	}
	if _, _, err := e.checkOpen(ctx, w, "a person's decision"); err != nil {
		return 0, "", "", "", fmt.Errorf("printer %s does not answer (%v), so whether a blank was fed for job %s is unknown: bring the printer back (the station then checks its card counter), or take it out of the config and restart to settle the job by hand", pr, err, jobID)
	}
	meta, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return 0, "", "", "", err
	}
	if meta.State != jobqueue.Uncertain {
		return 0, "", "", "", fmt.Errorf("job %s: the printer's card counter shows no blank was fed; the job is %s again, nothing to settle: %w", jobID, meta.State, ErrNotWaiting)
	}
	id, pr, _, spoilAs, uid, err = e.uncertainIntent(ctx, jobID)
	return id, pr, spoilAs, uid, err
}

// Confirm settles an uncertain job as printed: the finished card's chip is
// read back (at the desk reader, confirm_reader, or else at the printer's
// encoder) and compared with the job's data first. A card still inside the
// printer cannot be confirmed, and neither can one whose printer cannot say
// whether it is still inside (fail closed).
func (e *Engine) Confirm(ctx context.Context, jobID, actor string) (string, error) {
	meta, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return "", err
	}
	if meta.State != jobqueue.Uncertain {
		return "", fmt.Errorf("job %s is %s: %w (only an uncertain job can be confirmed; use retry or cancel for others)", jobID, meta.State, ErrNotWaiting)
	}
	_, pr, _, _, _, err := e.uncertainIntent(ctx, jobID)
	if err != nil {
		return "", err
	}
	w := e.byName[pr]
	if w == nil {
		return "", fmt.Errorf("printer %s of job %s is not configured: the card cannot be checked here; spoil it if it cannot be found", pr, jobID)
	}
	if err := e.holdPrinter(ctx, w); err != nil {
		return "", err
	}
	defer w.release()
	intent, _, _, _, err := e.settleOpenFirst(ctx, jobID)
	if err != nil {
		return "", err
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
	sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	st, err := w.p.Status(sctx)
	cancel()
	if err != nil {
		return "", fmt.Errorf("printer %s does not answer (%v), so whether the card of job %s is still inside it is unknown: confirm again when the printer answers, or spoil the card", pr, err, jobID)
	}
	if st.Card != printer.PositionNone && st.Card != 0 {
		return "", fmt.Errorf("the card of job %s is still inside printer %s (%s), so it was never finished: %w: spoil it (printstationctl attention spoil %s); the printer moves it to the reject box", jobID, pr, st.Card, ErrCardInside, jobID)
	}
	var uid []byte
	if p.hasChp {
		reader, where := e.confirmReader(w)
		if reader == nil {
			return "", fmt.Errorf("printer %s has no encoder and no confirm_reader is configured: the chip cannot be checked", pr)
		}
		// The person holds the finished card to the reader; its chip must
		// hold exactly this job's data.
		cctx, cancel := context.WithTimeout(ctx, time.Duration(e.config().Engine.ChipTimeoutSeconds)*time.Second)
		res, err := reader.Verify(cctx, p.perso)
		cancel()
		switch {
		case errors.Is(err, chip.ErrNoCard):
			return "", fmt.Errorf("%w (%s): hold the card of job %s to it, then confirm again", ErrNoCardAtEncoder, where, jobID)
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
		if err := resolveIntent(ctx, tx, intent, outUncertain, outConfirmed, uidText(uid)); err != nil {
			return err
		}
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Consumed, Actor: actor, Printer: pr, Job: jobID, UID: uidText(uid)}); err != nil {
			return err
		}
		return e.queue.SetStateDetail(ctx, tx, jobID, jobqueue.Printed, jobqueue.Detail{Reason: "confirmed by " + actor, Printer: pr, UID: uidText(uid)})
	})
	if err != nil {
		return "", err
	}
	w.resumeFrom(wAttention)
	e.publish(Event{Type: "card_confirmed", Job: jobID, Printer: pr, UID: uidText(uid), Message: "confirmed by " + actor})
	return uidText(uid), nil
}

// confirmReader is where a person holds an uncertain card: the desk reader
// when one is configured, else the printer's own encoder.
func (e *Engine) confirmReader(w *worker) (Encoder, string) {
	if e.parts != nil && e.parts.Confirm != nil {
		return e.parts.Confirm, "the desk reader (confirm_reader)"
	}
	if w.enc != nil {
		return w.enc, "the encoder of printer " + w.name
	}
	return nil, ""
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
	_, pr, _, _, _, err := e.uncertainIntent(ctx, jobID)
	if err != nil {
		return err
	}
	w := e.byName[pr]
	if w != nil {
		if err := e.holdPrinter(ctx, w); err != nil {
			return err
		}
		defer w.release()
	}
	intent, pr, spoilAs, uid, err := e.settleOpenFirst(ctx, jobID)
	if err != nil {
		return err
	}
	if spoilAs == "" {
		spoilAs = inventory.ReasonCrashUnconfirmed
	}
	if uid == "" {
		uid = inventory.UIDUnknown
	}
	if w != nil {
		sctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		st, err := w.p.Status(sctx)
		cancel()
		// A card still inside goes to the reject box. When the printer
		// does not answer the card is counted anyway; a card found inside
		// later is shown as counted (cardInsideMessage).
		if err == nil && st.Card != printer.PositionNone && st.Card != 0 {
			if err := w.p.Reject(ctx); err != nil {
				return fmt.Errorf("moving the card to the reject box: %w (take it out by hand, then spoil again)", err)
			}
		}
		defer w.resumeFrom(wAttention)
	}
	if u, r, desk := e.deskIntent(ctx, intent); desk {
		// The desk flow knows the card's UID and why it is in doubt.
		uid, spoilAs = u, r
	}
	err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := resolveIntent(ctx, tx, intent, outUncertain, outUncertainSpoiled, ""); err != nil {
			return err
		}
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: actor, Printer: pr, Job: jobID, UID: uid, Reason: spoilAs}); err != nil {
			return err
		}
		if err := e.queue.SetStateDetail(ctx, tx, jobID, jobqueue.SpoiledWaiting, jobqueue.Detail{Reason: "spoiled by " + actor, Printer: pr, UID: uid}); err != nil {
			return err
		}
		return e.requeue(ctx, tx, meta, "back in the queue after "+actor+" spoiled the uncertain card")
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

// holdPrinter takes a printer for a person's action, waiting for the card
// in flight on it (at most two minutes).
func (e *Engine) holdPrinter(ctx context.Context, w *worker) error {
	hctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The worker lets go after its card instead of going on to the next.
	w.wanted.Add(1)
	defer w.wanted.Add(-1)
	if err := w.acquire(hctx); err != nil {
		return fmt.Errorf("%w: try again when its card is out", err)
	}
	return nil
}
