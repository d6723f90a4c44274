package station

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"sync"
	"time"

	"printstation/card"
	"printstation/chip"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer/ipp"
	"printstation/storage"
)

// The desk encoder flow (config: encoder = "desk") serves printers that the
// station reaches only through a print queue (printer/ipp): the queue
// prints whole cards and has no encoder the station can drive, so the chip
// is written on a PC/SC reader on the operator's desk. One card goes:
//
//	place_blank  the operator places a blank on the desk reader; its UID is read
//	writing      intent (durable, with the UID), then the chip is written and read back
//	to_feed      "put this card in the printer's manual feed"; the reader sees it go
//	printing     intent (durable), then the face goes to the queue; the job is followed
//	tap_back     "tap the printed card on the reader": the UID must be the one written
//	             and the chip must still hold the job's data; only then is the card
//	             the job's and the blank consumed
//
// The same crash rule as the inline flow: each irreversible act (writing a
// chip, printing a face) has its durable record first, and at start every
// open record is settled by deskRecovery below: what can be proven (a face
// never printed) is settled by the station, what cannot waits for a person.
// A blank whose UID is already in the station's records is refused, so a
// spoiled or issued card cannot come back as a blank.

// deskStep is the step a desk printer is at, as the page and the CLI show it.
type deskStep string

const (
	deskIdle       deskStep = ""
	deskPlaceBlank deskStep = "place_blank"
	deskWriting    deskStep = "writing"
	deskToFeed     deskStep = "to_feed"
	deskPrinting   deskStep = "printing"
	deskTapBack    deskStep = "tap_back"
	deskPutAside   deskStep = "put_aside" // a card the operator must put with the spoiled cards
)

// deskSchema is the desk flow's durable step per intent.
const deskSchema = `
CREATE TABLE IF NOT EXISTS station_desk (
	intent_id  INTEGER PRIMARY KEY,
	step       TEXT NOT NULL CHECK (step IN ('writing','written','printing','printed','done')),
	uid        TEXT NOT NULL,
	ipp_job    INTEGER,
	wrong_uids TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL
);
`

// deskRule settles an open desk intent found at start, by its durable step.
type deskRule struct {
	// spoil: the face was certainly never printed, so the card is not the
	// job's: spoiled with this reason and its UID, the job back in the queue.
	spoil string
	// why is the message for the operator or the person who decides.
	why string
}

// deskRecovery is the crash rule of the desk flow as a table. A step not
// in the table, or a rule with no spoil reason, waits for a person.
var deskRecovery = map[string]deskRule{
	"writing": {spoil: inventory.ReasonDeskNotPrinted,
		why: "the station stopped while the chip of the card %s was being written; its face was never printed: put the card with the spoiled cards"},
	"written": {spoil: inventory.ReasonDeskNotPrinted,
		why: "the station stopped after the chip of the card %s was written and before its face was sent to the printer: put the card with the spoiled cards"},
	"printing": {why: "the station stopped while the face of the card %s was being printed: take the card out of the printer; if its face is good, tap it on the desk reader and confirm (printstationctl attention confirm JOB), else spoil it"},
	"printed":  {why: "the station stopped before the printed card %s was tapped back: tap it on the desk reader and confirm (printstationctl attention confirm JOB), or spoil it"},
}

// DeskView is what a desk printer asks of the operator now. Name and Face
// are personal data: the web page shows them only to signed-in staff, and
// they are never logged.
type DeskView struct {
	Step    string `json:"step"`
	Job     string `json:"job,omitempty"`
	UID     string `json:"uid,omitempty"`
	Message string `json:"message,omitempty"`
	// Note says why the step is shown again or differently: no_chip,
	// known_card, wrong_card, spoiled, done, or "" (the page words it in
	// both languages).
	Note  string `json:"note,omitempty"`
	Name  string `json:"-"`
	Face  []byte `json:"-"` // PNG of the card's front
	Since time.Time
}

type deskState struct {
	mu   sync.Mutex
	view DeskView
}

func (d *deskState) set(v DeskView) {
	v.Since = time.Now()
	d.mu.Lock()
	d.view = v
	d.mu.Unlock()
}

func (d *deskState) get() DeskView {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.view
}

// Desk is the desk step of a printer (ok false: not a desk printer).
func (e *Engine) Desk(printerName string) (DeskView, bool) {
	w := e.byName[printerName]
	if w == nil || w.desk == nil {
		return DeskView{}, false
	}
	return w.desk.get(), true
}

// deskReader is what the flow needs of the desk reader (chip/pcsc and
// chip/chiptest encoders).
type deskReader interface {
	Do(ctx context.Context, f func(ctx context.Context, c chip.Card, atr []byte) error) error
	WaitRemoved(ctx context.Context) error
}

// queuePrinter is what the flow needs of a print queue (printer/ipp).
type queuePrinter interface {
	Submit(ctx context.Context, c ipp.Card) (ipp.Job, error)
	Wait(ctx context.Context, j ipp.Job) (ipp.Job, error)
	JobState(ctx context.Context, id int) (ipp.Job, error)
	Cancel(ctx context.Context, id int) error
}

var errNotDesk = errors.New("not a desk reader or print queue")

// errDeskCrash ends an attempt where a test's crash point stopped it.
var errDeskCrash = errors.New("desk crash point")

// deskHook is the tests' crash point: true stops the attempt right there,
// writing nothing more, as a killed daemon would (the test then opens a new
// engine on the same database). Production engines have none.
func (e *Engine) deskHook(step string) bool {
	return e.deskCrash != nil && e.deskCrash(step)
}

func (l *lazyEncoder) Do(ctx context.Context, f func(ctx context.Context, c chip.Card, atr []byte) error) error {
	e, err := l.get(ctx)
	if err != nil {
		return err
	}
	d, ok := e.(deskReader)
	if !ok {
		return fmt.Errorf("encoder %T: %w", e, errNotDesk)
	}
	return d.Do(ctx, f)
}

func (l *lazyEncoder) WaitRemoved(ctx context.Context) error {
	e, err := l.get(ctx)
	if err != nil {
		return err
	}
	d, ok := e.(deskReader)
	if !ok {
		return fmt.Errorf("encoder %T: %w", e, errNotDesk)
	}
	return d.WaitRemoved(ctx)
}

func (l *lazyPrinter) queue(ctx context.Context) (queuePrinter, error) {
	d, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	q, ok := d.(queuePrinter)
	if !ok {
		return nil, fmt.Errorf("printer driver %T: %w", d, errNotDesk)
	}
	return q, nil
}

func (l *lazyPrinter) Submit(ctx context.Context, c ipp.Card) (ipp.Job, error) {
	q, err := l.queue(ctx)
	if err != nil {
		return ipp.Job{}, err
	}
	return q.Submit(ctx, c)
}
func (l *lazyPrinter) Wait(ctx context.Context, j ipp.Job) (ipp.Job, error) {
	q, err := l.queue(ctx)
	if err != nil {
		return j, err
	}
	return q.Wait(ctx, j)
}
func (l *lazyPrinter) JobState(ctx context.Context, id int) (ipp.Job, error) {
	q, err := l.queue(ctx)
	if err != nil {
		return ipp.Job{ID: id, State: "unknown"}, err
	}
	return q.JobState(ctx, id)
}
func (l *lazyPrinter) Cancel(ctx context.Context, id int) error {
	q, err := l.queue(ctx)
	if err != nil {
		return err
	}
	return q.Cancel(ctx, id)
}

// deskParts are the worker's printer and reader as the desk flow needs them.
func (w *worker) deskParts() (queuePrinter, deskReader, error) {
	q, ok := w.p.(queuePrinter)
	if !ok {
		return nil, nil, fmt.Errorf("printer %s is not a print queue: encoder = \"desk\" needs transport = \"ipp\"", w.name)
	}
	r, ok := w.enc.(deskReader)
	if !ok || w.enc == nil {
		return nil, nil, fmt.Errorf("printer %s has no desk reader: set encoder_reader to the desk reader's name", w.name)
	}
	return q, r, nil
}

func (w *worker) deskWait() time.Duration {
	return time.Duration(w.e.config().Engine.DeskWaitSeconds) * time.Second
}

// errKnownCard is a card whose UID the station has already recorded.
type errKnownCard struct{ uid, how string }

func (e *errKnownCard) Error() string {
	return fmt.Sprintf("this card is already counted (%s): it is not a blank", e.how)
}

// knownUID says how the station already knows a UID, "" if it does not.
func (e *Engine) knownUID(ctx context.Context, uid string) string {
	var res sql.NullString
	var job string
	err := e.db.QueryRowContext(ctx, `SELECT job_id, resolution FROM station_intents WHERE uid = ? ORDER BY id DESC LIMIT 1`, uid).Scan(&job, &res)
	if err == nil {
		if !res.Valid {
			return "in use for job " + job
		}
		return res.String + " for job " + job
	}
	return ""
}

// deskAttempt is one blank through the desk flow. It reports whether the
// job should go on to a new blank.
func (w *worker) deskAttempt(ctx context.Context, p *prepared, attempt int) bool {
	e := w.e
	job := p.meta
	log := e.log.With().Str("printer", w.name).Str("job", job.ID).Int("attempt", attempt).Logger()
	q, rd, err := w.deskParts()
	if err != nil {
		w.e.toAttention(ctx, job, w.name, err.Error())
		w.pause(wPaused, err.Error())
		w.withCode(PrinterDeskSetup)
		return false
	}
	view := DeskView{Job: job.ID, Name: p.name, Face: p.facePNG()}
	defer w.desk.set(DeskView{})
	wait := w.deskWait()
	// Once a blank is touched the card is finished even when the daemon
	// stops, as in the inline flow.
	cctx, cancel := cardCtx(ctx, 4*wait+10*time.Minute)
	defer cancel()

	// 1. A blank on the reader; its UID, then (same connection, so the same
	// card) the intent, then the chip.
	var intent int64
	var uid string
	var writeErr error
	for refused := 0; ; refused++ {
		if refused >= 5 {
			w.giveBack(ctx, job, "no fresh blank on the desk reader of "+w.name)
			w.pause(wPaused, fmt.Sprintf("printer %s: %d cards placed on the desk reader were already counted; check the blank stock, then resume (printstationctl printer resume %s)", w.name, refused, w.name))
			w.withCode(PrinterDeskCounted)
			return false
		}
		view.Step, view.UID, view.Message, view.Note = string(deskPlaceBlank), "", "place a blank card on the desk reader", ""
		if !p.hasChp {
			view.Message, view.Note = "this card has no chip: put a blank card in the printer's manual feed", "no_chip"
		}
		w.desk.set(view)
		if !p.hasChp {
			break
		}
		rctx, rcancel := context.WithTimeout(ctx, wait)
		err := rd.Do(rctx, func(ctx context.Context, c chip.Card, atr []byte) error {
			raw, _, err := chip.ReadUID(ctx, c)
			if err != nil {
				return err
			}
			if len(raw) == 0 {
				return fmt.Errorf("the desk reader gives no UID for this card: the desk flow traces every blank by its UID; use a reader that answers GET DATA (FF CA)")
			}
			uid = uidText(raw)
			if how := e.knownUID(ctx, uid); how != "" {
				return &errKnownCard{uid: uid, how: how}
			}
			// The intent is durable before the chip is touched.
			if err := storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
				r, err := tx.ExecContext(cctx, `INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at, uid) VALUES (?,?,?,?,?,?)`,
					job.ID, w.name, attempt, -1, now(), uid)
				if err != nil {
					return err
				}
				if intent, err = r.LastInsertId(); err != nil {
					return err
				}
				_, err = tx.ExecContext(cctx, `INSERT INTO station_desk(intent_id, step, uid, updated_at) VALUES (?,?,?,?)`, intent, "writing", uid, now())
				return err
			}); err != nil {
				intent = 0
				return fmt.Errorf("recording the intent: %w", err)
			}
			if w.e.deskHook("writing") {
				return errDeskCrash
			}
			view.Step, view.UID, view.Message = string(deskWriting), uid, "writing the chip: leave the card on the reader"
			w.desk.set(view)
			chipCtx, cancelChip := context.WithTimeout(cctx, time.Duration(e.config().Engine.ChipTimeoutSeconds)*time.Second)
			defer cancelChip()
			_, writeErr = chip.Personalize(chipCtx, c, atr, p.perso, chip.Options{})
			return nil
		})
		rcancel()
		var known *errKnownCard
		switch {
		case errors.Is(err, errDeskCrash):
			return false
		case err == nil:
		case errors.As(err, &known):
			view.Step, view.UID, view.Message, view.Note = string(deskPutAside), known.uid, known.Error()+": take it off the reader and place a fresh blank", "known_card"
			w.desk.set(view)
			e.publish(Event{Type: "desk_card_refused", Printer: w.name, Job: job.ID, UID: known.uid, Message: known.Error()})
			wctx, wcancel := context.WithTimeout(ctx, wait)
			rd.WaitRemoved(wctx)
			wcancel()
			if ctx.Err() != nil {
				w.giveBack(ctx, job, "station stopping")
				return false
			}
			continue
		case errors.Is(err, chip.ErrNoCard) && intent == 0:
			w.giveBack(ctx, job, "no blank placed on the desk reader of "+w.name)
			w.pause(wPaused, fmt.Sprintf("printer %s waited %s for a blank on the desk reader: resume when the operator is at the desk (printstationctl printer resume %s)", w.name, wait, w.name))
			w.withCode(PrinterDeskWaited)
			return false
		case intent == 0:
			// Nothing written: the encoder, not the card, failed.
			w.giveBack(ctx, job, "desk reader of "+w.name+" failed")
			w.offline(fmt.Sprintf("desk reader of printer %s failed: %v — retried every few seconds", w.name, err))
			w.withCode(PrinterEncoderDown)
			return false
		default:
			writeErr = err
		}
		break
	}

	if p.hasChp && writeErr != nil {
		reason := inventory.ReasonChipWrite
		if errors.Is(writeErr, chip.ErrVerifyMismatch) {
			reason = inventory.ReasonChipVerify
		}
		log.Warn().Err(writeErr).Msg("desk chip write failed; card spoiled")
		w.deskSpoil(cctx, p, intent, uid, reason, "chip: "+writeErr.Error())
		w.deskPutAside(ctx, rd, view, uid, "the chip could not be written: put this card with the spoiled cards")
		if errors.Is(writeErr, chip.ErrServiceDown) || errors.Is(writeErr, chip.ErrReaderGone) {
			w.giveBack(ctx, job, "desk reader of "+w.name+" failed")
			w.offline(fmt.Sprintf("desk reader of printer %s failed: %v — retried every few seconds", w.name, writeErr))
			w.withCode(PrinterEncoderDown)
			return false
		}
		return true
	}
	if p.hasChp {
		e.db.ExecContext(cctx, `UPDATE station_desk SET step='written', updated_at=? WHERE intent_id=?`, now(), intent)
		e.publish(Event{Type: "desk_chip_written", Printer: w.name, Job: job.ID, UID: uid})
		if e.deskHook("written") {
			return false
		}

		// 2. The card leaves the reader for the printer's manual feed.
		view.Step, view.Message = string(deskToFeed), "take the card off the reader and put it in the printer's manual feed"
		w.desk.set(view)
		rctx, rcancel := context.WithTimeout(ctx, wait)
		err := rd.WaitRemoved(rctx)
		rcancel()
		if err != nil {
			w.deskSpoil(cctx, p, intent, uid, inventory.ReasonDeskNotPrinted, "the card was not taken to the printer")
			w.giveBack(ctx, job, "card not taken to the printer")
			w.pause(wPaused, fmt.Sprintf("the card of job %s stayed on the desk reader of %s (%v): it is spoiled (its chip holds the job's data): put it with the spoiled cards, then resume", job.ID, w.name, err))
			w.withCode(PrinterDeskCardLeft)
			return false
		}
	} else {
		if err := storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
			r, err := tx.ExecContext(cctx, `INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES (?,?,?,?,?)`, job.ID, w.name, attempt, -1, now())
			if err != nil {
				return err
			}
			intent, err = r.LastInsertId()
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(cctx, `INSERT INTO station_desk(intent_id, step, uid, updated_at) VALUES (?,?,?,?)`, intent, "written", "", now())
			return err
		}); err != nil {
			w.giveBack(ctx, job, "database error before printing")
			return false
		}
	}

	// 3. The face, with its intent first.
	if _, err := e.db.ExecContext(cctx, `UPDATE station_desk SET step='printing', updated_at=? WHERE intent_id=?`, now(), intent); err != nil {
		w.deskSpoil(cctx, p, intent, uid, inventory.ReasonDeskNotPrinted, "database error before printing")
		w.giveBack(ctx, job, "database error before printing")
		return false
	}
	if e.deskHook("printing") {
		return false
	}
	view.Step, view.Message = string(deskPrinting), "printing the face: the printer takes the card from its manual feed"
	w.desk.set(view)
	w.prefetch(ctx)
	face := ipp.Card{Title: "job " + job.ID, Front: p.face()}
	ij, err := q.Submit(cctx, face)
	if err != nil && !ij.Submitted {
		// Nothing reached the queue: the face was certainly not printed.
		w.releasePending(ctx)
		w.deskSpoil(cctx, p, intent, uid, inventory.ReasonDeskNotPrinted, "print: "+err.Error())
		w.giveBack(ctx, job, "printer "+w.name+" refused the card")
		w.printerFault(fmt.Errorf("%w — take the card of job %s out of the manual feed and put it with the spoiled cards", err, job.ID))
		return false
	}
	if ij.ID > 0 {
		e.db.ExecContext(cctx, `UPDATE station_desk SET ipp_job=?, updated_at=? WHERE intent_id=?`, ij.ID, now(), intent)
	}
	if e.deskHook("submitted") {
		return false
	}
	if err == nil {
		ij, err = q.Wait(cctx, ij)
	}
	if err != nil {
		// Whether the face went on the card is unknown: a person looks.
		w.releasePending(ctx)
		if ij.ID > 0 && !ij.Terminal() {
			q.Cancel(cctx, ij.ID)
		}
		msg := fmt.Sprintf("printing the card of job %s on %s did not finish (%v): take the card out of the printer; if its face is good, tap it on the desk reader and confirm, else spoil it", job.ID, w.name, err)
		w.deskUncertain(cctx, job, intent, msg)
		w.printerFault(err)
		return false
	}
	e.db.ExecContext(cctx, `UPDATE station_desk SET step='printed', updated_at=? WHERE intent_id=?`, now(), intent)
	if e.deskHook("printed") {
		return false
	}
	if !p.hasChp {
		w.deskConsumed(cctx, p, intent, "")
		return false
	}

	// 4. The printed card back on the reader: same UID, same data.
	view.Step, view.Message = string(deskTapBack), "tap the printed card on the desk reader"
	w.desk.set(view)
	var wrong []string
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var got string
		var verr error
		rctx, rcancel := context.WithDeadline(ctx, deadline)
		err := rd.Do(rctx, func(ctx context.Context, c chip.Card, atr []byte) error {
			raw, _, err := chip.ReadUID(ctx, c)
			if err != nil {
				return err
			}
			got = uidText(raw)
			if got != uid {
				return nil
			}
			_, verr = chip.Verify(ctx, c, atr, p.perso, chip.Options{})
			return nil
		})
		rcancel()
		if err != nil {
			if errors.Is(err, chip.ErrNoCard) || errors.Is(err, chip.ErrCardRemoved) {
				continue
			}
			break // the reader failed: a person decides below
		}
		if got == uid {
			if verr != nil {
				w.deskSpoil(cctx, p, intent, uid, inventory.ReasonChipVerify, "tapped back: "+verr.Error())
				w.deskPutAside(ctx, rd, view, uid, "the printed card's chip no longer holds the job's data: put it with the spoiled cards")
				return true
			}
			w.deskConsumed(cctx, p, intent, uid)
			view.Step, view.Message, view.Note = string(deskPutAside), "card done: take it off the reader", "done"
			w.desk.set(view)
			wctx, wcancel := context.WithTimeout(ctx, wait)
			rd.WaitRemoved(wctx)
			wcancel()
			return false
		}
		// Another card: say so, keep its UID (every card the reader saw is
		// on record), and wait for the right one.
		if !containsStr(wrong, got) {
			wrong = append(wrong, got)
			e.db.ExecContext(cctx, `UPDATE station_desk SET wrong_uids=?, updated_at=? WHERE intent_id=?`, strings.Join(wrong, ","), now(), intent)
			e.publish(Event{Type: "desk_wrong_card", Printer: w.name, Job: job.ID, UID: got, Message: "the card tapped back is not the card written for the job"})
		}
		view.Message, view.Note = "wrong card: take it off and tap the card that just came out of the printer", "wrong_card"
		w.desk.set(view)
		wctx, wcancel := context.WithDeadline(ctx, deadline)
		rd.WaitRemoved(wctx)
		wcancel()
	}
	msg := fmt.Sprintf("the printed card of job %s was not tapped back on the desk reader of %s", job.ID, w.name)
	if len(wrong) > 0 {
		msg = fmt.Sprintf("%d other card(s) were tapped back after printing job %s on %s, not the card written for it: find the printed card; if its chip is the job's, tapping it confirms it (printstationctl attention confirm %s), else spoil it (a face on the wrong chip)", len(wrong), job.ID, w.name, job.ID)
	} else {
		msg += ": find it, tap it and confirm, or spoil it"
	}
	w.deskUncertain(cctx, job, intent, msg)
	w.pause(wAttention, msg)
	w.withCode(PrinterDeskNotTapped)
	return false
}

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// deskPutAside tells the operator to put a card aside and waits (bounded)
// for it to leave the reader.
func (w *worker) deskPutAside(ctx context.Context, rd deskReader, view DeskView, uid, msg string) {
	view.Step, view.UID, view.Message, view.Note = string(deskPutAside), uid, msg, "spoiled"
	w.desk.set(view)
	wctx, cancel := context.WithTimeout(ctx, w.deskWait())
	rd.WaitRemoved(wctx)
	cancel()
}

// deskSpoil records a spoiled desk card with its UID and closes its step.
func (w *worker) deskSpoil(ctx context.Context, p *prepared, intent int64, uid, reason, detail string) {
	if uid == "" {
		uid = inventory.UIDUnknown
	}
	w.e.db.ExecContext(ctx, `UPDATE station_desk SET step='done', updated_at=? WHERE intent_id=?`, now(), intent)
	w.spoil(ctx, p, intent, uidBytes(uid), reason, detail)
}

func (w *worker) deskConsumed(ctx context.Context, p *prepared, intent int64, uid string) {
	w.e.db.ExecContext(ctx, `UPDATE station_desk SET step='done', updated_at=? WHERE intent_id=?`, now(), intent)
	w.consumed(ctx, ctx, p, intent, uidBytes(uid))
}

// deskUncertain puts a card that cannot be proven aside for a person.
func (w *worker) deskUncertain(ctx context.Context, job jobqueue.JobMeta, intent int64, msg string) {
	if err := w.e.settleUncertain(ctx, intent, job.ID, w.name, msg); err != nil {
		// The intent stays open: the desk recovery settles it.
		w.e.log.Error().Err(err).Str("job", job.ID).Msg("recording an uncertain desk card failed")
	}
	w.e.unhold(job.ID, w.name)
}

// uidBytes turns the ledger's hex UID back into bytes for the shared
// record functions (which print it with uidText again).
func uidBytes(s string) []byte {
	if s == "" || s == inventory.UIDUnknown {
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

// face is the card's front as the queue prints it: colour and black
// composed, as the printer's own driver would.
func (p *prepared) face() image.Image {
	if p.black == nil {
		return p.color
	}
	return card.Composite(p.color, p.black)
}

// facePNG is a small preview of the front for the operator's screen.
func (p *prepared) facePNG() []byte {
	if p.color == nil {
		return nil
	}
	src := p.face()
	b := src.Bounds()
	// Half size is enough to tell cards apart on the screen.
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx()/2, b.Dy()/2))
	for y := 0; y < dst.Bounds().Dy(); y++ {
		for x := 0; x < dst.Bounds().Dx(); x++ {
			dst.Set(x, y, src.At(b.Min.X+2*x, b.Min.Y+2*y))
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, dst)
	return buf.Bytes()
}

// recoverDesk settles one open desk intent at start (deskRecovery). It
// reports false when the intent is not a desk one.
func (e *Engine) recoverDesk(ctx context.Context, intent int64, jobID, printerName string) bool {
	var step, uid string
	var ippJob sql.NullInt64
	if err := e.db.QueryRowContext(ctx, `SELECT step, uid, ipp_job FROM station_desk WHERE intent_id=?`, intent).Scan(&step, &uid, &ippJob); err != nil {
		return false
	}
	if uid == "" {
		uid = inventory.UIDUnknown
	}
	rule, ok := deskRecovery[step]
	if !ok {
		e.deskSettleUncertain(ctx, intent, jobID, printerName, fmt.Sprintf("the card of job %s was at an unknown desk step %q when the station stopped: a person decides (confirm or spoil)", jobID, step))
		return true
	}
	// A print job the queue never started can be cancelled, which proves
	// the face was not printed.
	if step == "printing" && ippJob.Valid {
		if w := e.byName[printerName]; w != nil {
			if q, ok := w.p.(queuePrinter); ok {
				cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				j, err := q.JobState(cctx, int(ippJob.Int64))
				if err == nil && (j.State == "pending" || j.State == "pending-held") && q.Cancel(cctx, j.ID) == nil {
					if j2, err := q.JobState(cctx, j.ID); err == nil && j2.State == "canceled" {
						rule = deskRule{spoil: inventory.ReasonDeskNotPrinted, why: "the station stopped before the printer started the face of the card %s; the print job was cancelled: take the card out of the manual feed and put it with the spoiled cards"}
					}
				}
				cancel()
			}
		}
	}
	why := fmt.Sprintf(rule.why, "of job "+jobID)
	if rule.spoil == "" {
		e.deskSettleUncertain(ctx, intent, jobID, printerName, why)
		if w := e.byName[printerName]; w != nil {
			w.set(wAttention, "job "+jobID+" waits for a person after a restart: printstationctl attention list", "")
			w.withCode(PrinterUncertainRestart)
		}
		return true
	}
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: e.ec.Actor, Printer: printerName, Job: jobID, UID: uid, Reason: rule.spoil}); err != nil {
			return err
		}
		if err := resolveIntent(ctx, tx, intent, outOpen, outSpoiled, ""); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE station_desk SET step='done', updated_at=? WHERE intent_id=?`, now(), intent); err != nil {
			return err
		}
		if err := e.queue.SetState(ctx, tx, jobID, jobqueue.SpoiledWaiting, "restart: "+why); err != nil && !errors.Is(err, jobqueue.ErrIllegalTransition) {
			return err
		}
		return e.queue.SetState(ctx, tx, jobID, jobqueue.Queued, "restart: a new blank is due")
	})
	if err != nil {
		e.deskSettleUncertain(ctx, intent, jobID, printerName, why+fmt.Sprintf(" (recording it failed: %v)", err))
		return true
	}
	e.log.Warn().Str("job", jobID).Str("printer", printerName).Str("reason", rule.spoil).Msg("restart: desk card spoiled")
	e.publish(Event{Type: "card_spoiled", Printer: printerName, Job: jobID, UID: uid, Message: why})
	return true
}

// deskSettleUncertain is settleUncertain for a desk card, logging a failure
// (the intent then stays open and the next check settles it).
func (e *Engine) deskSettleUncertain(ctx context.Context, intent int64, jobID, printerName, why string) {
	if err := e.settleUncertain(ctx, intent, jobID, printerName, why); err != nil {
		e.log.Error().Err(err).Str("job", jobID).Msg("recording an uncertain desk card failed")
	}
}

// deskIntent is the desk record of an uncertain intent: its UID and the
// reason a person's spoil records.
func (e *Engine) deskIntent(ctx context.Context, intent int64) (uid, spoilReason string, ok bool) {
	var step, wrong string
	if err := e.db.QueryRowContext(ctx, `SELECT step, uid, wrong_uids FROM station_desk WHERE intent_id=?`, intent).Scan(&step, &uid, &wrong); err != nil {
		return "", "", false
	}
	switch {
	case wrong != "":
		spoilReason = inventory.ReasonWrongChip
	case step == "printed":
		spoilReason = inventory.ReasonNotTappedBack
	default:
		spoilReason = inventory.ReasonCrashUnconfirmed
	}
	if uid == "" {
		uid = inventory.UIDUnknown
	}
	return uid, spoilReason, true
}
