package station

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"printstation/chip"
	"printstation/internal/failpoint"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/printer/raster"
	"printstation/station/localapi"
	"printstation/storage"
)

// worker drives one printer: one card at a time, the next one prepared
// while the current one is in the printer.
type worker struct {
	e    *Engine
	name string
	p    Printer
	enc  Encoder
	wake chan struct{}
	busy atomic.Bool // a card is in flight
	// use is held by whoever drives the printer: the worker from its
	// readiness check to the card's end, or a person's action through the
	// daemon (confirm, spoil, a test card). Nobody drives it behind the
	// other's back.
	use chan struct{}
	// wanted counts the people's actions waiting for use: while one waits,
	// the worker does not keep the printer from one card to the next
	// (chainNext), it lets go after the card.
	wanted atomic.Int32

	mu      sync.Mutex
	state   workerState
	message string
	code    string // what a person must do, for the page (codes.go)
	job     string
	printed int
	spoiled int
	pending *pendingPrep
	// The circuit breaker: blanks that failed in a row on this printer, and
	// the chip UID the encoder reported last.
	fails   int
	lastUID []byte
	// noStock: paused only because the ledger has no blanks in it, so a
	// recorded load may resume it (and nothing else a person must see).
	noStock bool
	// cleanStop: stopped by the cleaning policy and no cleaning recorded
	// since (cleaning.go); cleanWarned: the warning was published.
	cleanStop   bool
	cleanWarned bool
	cleanMark   *CleaningMark  // the last cleaning (or first reading); nil: not read yet
	cleanCount  int64          // cleanings recorded (not first_seen), with cleanMark
	desk        *deskState     // encoder = "desk": the operator's step (desk.go)
	health      *PrinterHealth // the last readings for the technician's page (diag.go)
}

type pendingPrep struct {
	done chan struct{}
	p    *prepared
	err  error
	meta *jobqueue.JobMeta
}

// PrinterState is one printer's line in the status report.
type PrinterState = localapi.PrinterState

func newWorker(e *Engine, name string, p Printer, enc Encoder) *worker {
	return &worker{e: e, name: name, p: p, enc: enc, wake: make(chan struct{}, 1), use: make(chan struct{}, 1), state: wIdle}
}

func (w *worker) snapshot() PrinterState {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := PrinterState{Name: w.name, State: string(w.state), Code: w.code, Message: w.message, Job: w.job, Printed: w.printed, Spoiled: w.spoiled, CleaningSoon: w.cleanWarned}
	if w.desk != nil {
		v := w.desk.get()
		ps.Desk = &localapi.DeskStep{Step: v.Step, Job: v.Job, Message: v.Message}
	}
	return ps
}

// set moves the worker along workerMachine; an illegal move is refused
// (and logged), so a paused printer is never marked printing behind a
// person's back.
func (w *worker) set(state workerState, msg, job string) bool {
	w.mu.Lock()
	if !w.state.can(state) {
		from := w.state
		w.mu.Unlock()
		w.e.log.Error().Str("printer", w.name).Str("from", string(from)).Str("to", string(state)).Msg("illegal worker move refused")
		return false
	}
	w.state, w.message, w.code, w.job = state, msg, "", job
	w.mu.Unlock()
	return true
}

// withCode says, for the page, what a person must do about the state just
// set (codes.go); set clears it.
func (w *worker) withCode(code string) {
	w.mu.Lock()
	w.code = code
	w.mu.Unlock()
}

// pause stops the printer until a person resumes it, saying what to do.
func (w *worker) pause(state workerState, msg string) {
	w.mu.Lock()
	w.noStock = false
	w.mu.Unlock()
	w.set(state, msg, "")
	w.e.log.Warn().Str("printer", w.name).Str("state", string(state)).Msg(msg)
	w.e.publish(Event{Type: "printer_" + string(state), Printer: w.name, Message: msg})
}

// offline pauses for a fault that mends itself (a link, a service): the
// worker tries again by itself after a few seconds.
func (w *worker) offline(msg string) {
	w.pause(wOffline, msg)
	time.AfterFunc(5*time.Second, func() { w.resumeFrom(wOffline) })
}

func (w *worker) isPaused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return !workerMachine[w.state].feeds
}

// resume lets a paused printer go on; the worker re-checks the printer
// before the next blank. A person's resume also resets the breaker.
func (w *worker) resume() {
	w.mu.Lock()
	if workerMachine[w.state].resume {
		w.state, w.message, w.code = wIdle, "", ""
		w.fails = 0
		w.noStock = false
	}
	w.mu.Unlock()
	w.poke()
}

// resumeAfterLoad resumes a printer that waited only for blanks in the
// ledger; a printer stopped for anything else stays stopped.
func (w *worker) resumeAfterLoad() {
	w.mu.Lock()
	if w.noStock && w.state == wPaused {
		w.state, w.message, w.noStock = wIdle, "", false
	}
	w.mu.Unlock()
	w.poke()
}

// resumeFrom resumes only from the given state (the offline timer must not
// undo a pause a person has to see).
func (w *worker) resumeFrom(s workerState) {
	w.mu.Lock()
	if w.state == s {
		w.state, w.message = wIdle, ""
	}
	w.mu.Unlock()
	w.poke()
}

func (w *worker) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-w.wake:
	case <-t.C:
	}
}

func (w *worker) run(ctx context.Context) {
	defer w.releasePending(context.WithoutCancel(ctx))
	w.mu.Lock()
	if w.state == wStopped {
		w.state = wIdle
	}
	w.mu.Unlock()
	for ctx.Err() == nil {
		if w.e.draining.Load() {
			w.set(wStopped, "station stopping", "")
			w.withCode(PrinterStopping)
			return
		}
		if w.isPaused() {
			w.sleep(ctx, 5*time.Second)
			continue
		}
		if err := w.acquire(ctx); err != nil {
			continue
		}
		wait := w.step(ctx)
		w.release()
		if wait > 0 {
			w.sleep(ctx, wait)
		}
	}
}

// step checks the printer and runs the next card, holding the printer. It
// says how long to wait before the next step.
func (w *worker) step(ctx context.Context) time.Duration {
	if !w.ready(ctx) {
		return 0
	}
	p, err := w.next(ctx)
	if err != nil {
		w.e.log.Error().Err(err).Str("printer", w.name).Msg("taking the next job failed")
		return 2 * time.Second
	}
	if p == nil {
		w.set(wIdle, "", "")
		return time.Second
	}
	w.busy.Store(true)
	// While each card hands over to the next one (its outcome and the
	// next card's intent committed together, chainNext), the worker keeps
	// the printer: nothing can move a card between the two.
	for next := w.card(ctx, p, nil); next != nil; next = w.card(ctx, next.p, next) {
	}
	w.busy.Store(false)
	return 0
}

// acquire takes the printer for its holder, waiting at most as long as ctx.
func (w *worker) acquire(ctx context.Context) error {
	select {
	case w.use <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("printer %s is busy with a card: %w", w.name, ctx.Err())
	}
}

func (w *worker) release() { <-w.use }

// ready checks, before a blank is taken, that the printer answers, that no
// card of an earlier job is unsettled on it, and that the ledger has blanks
// in it. Whenever it says no, it has paused the worker and said why.
func (w *worker) ready(ctx context.Context) bool {
	// The configured ribbon chooses the panels (engine.rasterOptions); one
	// with no panel layout is the printer's set-up, not every job's fault.
	if r := w.e.rasterOptions(w.name).Ribbon; r != "" {
		if _, err := raster.RibbonPanels(r); err != nil {
			w.pause(wPaused, fmt.Sprintf("printer %s: %v — set ribbon to ymcko, ymckok, ko or k in its configuration, reload, then resume", w.name, err))
			w.withCode(PrinterRibbonConfig)
			return false
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := w.p.Status(sctx)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		w.offline(fmt.Sprintf("printer %s does not answer: %v — check its cable and power; it is retried every few seconds", w.name, err))
		w.withCode(PrinterNotAnswering)
		return false
	}
	// The same counter check as after a restart: an intent left open by a
	// link that dropped mid-card is settled now that the printer answers.
	if open, uncertain, err := w.e.checkOpen(ctx, w, "the printer's link dropped"); err != nil {
		if ctx.Err() != nil {
			return false
		}
		w.offline(fmt.Sprintf("printer %s: %d card(s) unsettled and the card counter cannot be read (%v): the job waits as uncertain; retried every few seconds", w.name, open, err))
		w.withCode(PrinterUncertainRestart)
		return false
	} else if uncertain > 0 {
		w.pause(wAttention, fmt.Sprintf("printer %s: a blank was fed for a job before the link dropped; the job is uncertain: printstationctl attention list", w.name))
		w.withCode(PrinterUncertainRestart)
		return false
	}
	// Stopped for cleaning: only a recorded cleaning (or the printer's own
	// cleaning counter going up) lets it go on, not a Resume.
	if w.cleaningStopped() {
		ctr, err := w.p.Counters(sctx)
		if err != nil {
			w.offline(fmt.Sprintf("printer %s does not answer: %v — check its cable and power; it is retried every few seconds", w.name, err))
			w.withCode(PrinterNotAnswering)
			return false
		}
		if w.cleaningStops(ctx, ctr) {
			return false
		}
	}
	if st.Card != printer.PositionNone && st.Card != 0 {
		w.pause(wAttention, w.e.cardInsideMessage(ctx, w.name, st.Card))
		w.withCode(PrinterCardInside)
		return false
	}
	if !st.Ready && len(st.Problems) > 0 {
		w.pause(wPaused, fmt.Sprintf("printer %s is not ready: %v — fix it, then resume", w.name, st.Problems))
		w.withCode(PrinterNotReady)
		return false
	}
	if r, ok := w.enc.(interface{ Ready(context.Context) error }); ok {
		if err := r.Ready(sctx); err != nil {
			w.offline(fmt.Sprintf("chip encoder of printer %s is not reachable: %v — no blank is fed until it is; retried every few seconds", w.name, err))
			w.withCode(PrinterEncoderDown)
			return false
		}
	}
	stock, err := w.e.ledger.Stock(sctx)
	if err != nil {
		w.offline(fmt.Sprintf("the ledger cannot be read (%v): no blank is fed until it can; retried every few seconds", err))
		return false
	}
	if stock.Printers[w.name] <= 0 {
		defer func() { w.mu.Lock(); w.noStock = true; w.mu.Unlock() }()
		w.pause(wPaused, fmt.Sprintf("the ledger has no blanks loaded in printer %s: load cards and record it (printstationctl stock load --printer %s --quantity N), then resume", w.name, w.name))
		w.withCode(PrinterNoBlanks)
		return false
	}
	return true
}

// next returns the job to print: the one prepared during the previous card
// if any, else a fresh claim.
func (w *worker) next(ctx context.Context) (*prepared, error) {
	w.mu.Lock()
	pp := w.pending
	w.pending = nil
	w.mu.Unlock()
	if pp != nil {
		<-pp.done
		if pp.err != nil {
			w.jobProblem(ctx, *pp.meta, pp.err)
			return nil, nil
		}
		if pp.p != nil {
			return pp.p, nil
		}
	}
	meta, err := w.e.claim(ctx, w.name)
	if err != nil || meta == nil {
		return nil, err
	}
	p, err := w.e.prepare(ctx, *meta, w.name)
	if err != nil {
		w.jobProblem(ctx, *meta, err)
		return nil, nil
	}
	return p, nil
}

// prefetch claims and prepares the next job in the background while the
// current card is in the printer.
func (w *worker) prefetch(ctx context.Context) {
	if w.e.draining.Load() {
		return
	}
	pp := &pendingPrep{done: make(chan struct{})}
	w.mu.Lock()
	if w.pending != nil {
		// One job prepared ahead is enough (a retry on a new blank must
		// not claim a second one and lose the first).
		w.mu.Unlock()
		return
	}
	w.pending = pp
	w.mu.Unlock()
	go func() {
		defer close(pp.done)
		meta, err := w.e.claim(ctx, w.name)
		if err != nil || meta == nil {
			return
		}
		pp.meta = meta
		pp.p, pp.err = w.e.prepare(ctx, *meta, w.name)
	}()
}

// releasePending gives a claimed but unfed job back to the queue.
func (w *worker) releasePending(ctx context.Context) {
	w.mu.Lock()
	pp := w.pending
	w.pending = nil
	w.mu.Unlock()
	if pp == nil {
		return
	}
	<-pp.done
	if pp.meta != nil {
		w.giveBack(ctx, *pp.meta, "not started on "+w.name)
	}
}

// giveBack returns a job no blank is in flight for to the queue (or ends
// it, when its batch was cancelled meanwhile).
func (w *worker) giveBack(ctx context.Context, job jobqueue.JobMeta, why string) {
	defer w.e.unhold(job.ID, w.name)
	ctx = context.WithoutCancel(ctx) // a stopping daemon still puts the job back
	err := storage.InTx(ctx, w.e.db, func(tx *sql.Tx) error { return w.e.requeue(ctx, tx, job, why) })
	if err != nil {
		w.e.log.Error().Err(err).Str("job", job.ID).Msg("returning a job to the queue failed; attention list shows it, retry moves it")
	}
}

// jobProblem puts a job that cannot be prepared aside for a person.
func (w *worker) jobProblem(ctx context.Context, meta jobqueue.JobMeta, err error) {
	w.e.log.Error().Str("job", meta.ID).Str("printer", w.name).Err(err).Msg("job needs a person")
	w.e.toAttention(ctx, meta, w.name, "cannot prepare the card: "+err.Error())
}

// cardCtx bounds one physical step so a card never waits forever.
func cardCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// card runs one job through the printer: feed, chip, print, eject, with
// retries on new blanks up to the bound. Once a blank is fed the card is
// finished even when the daemon is stopping (context.WithoutCancel): a
// half-done card is worse than a short delay in shutting down. Before every
// blank the batch and the printer are checked again: no blank is fed for a
// batch that is not running, nor into a printer that was stopped. ch, when
// set, is that check already made and the first blank's intent already
// committed with the previous card's outcome (chainNext). card returns the
// next card when this one handed over to it the same way.
func (w *worker) card(ctx context.Context, p *prepared, ch *chained) *chained {
	job := p.meta
	e := w.e
	defer e.unhold(job.ID, w.name)
	// Every physical step of this card has returned by now (the drivers
	// write synchronously): its images and panels are free for the next.
	defer p.release(&e.buffers)
	if ch != nil {
		w.set(wPrinting, "", job.ID)
		again, next := w.attempt(ctx, p, ch.attempt, ch)
		if !again {
			return next
		}
	}
	for first := ch == nil; ; first = false {
		if ctx.Err() != nil {
			w.giveBack(ctx, job, "station stopping before the next blank")
			return nil
		}
		n, err := e.attempts(ctx, job.ID)
		if err != nil {
			w.giveBack(ctx, job, "database error")
			w.offline(fmt.Sprintf("reading job %s's attempts failed (%v): retried every few seconds", job.ID, err))
			return nil
		}
		if max := e.config().Engine.MaxAttempts; n >= max {
			e.toAttention(ctx, job, w.name, e.boundReason(ctx, job.ID, n, max))
			return nil
		}
		if w.isPaused() {
			w.giveBack(ctx, job, "printer "+w.name+" stopped before the next blank")
			return nil
		}
		if !w.batchGoes(ctx, job) {
			return nil
		}
		if !first {
			// A new blank for the job whose last one was just spoiled (a
			// claimed job is marked printing already).
			if err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				return e.queue.SetState(ctx, tx, job.ID, jobqueue.Printing, fmt.Sprintf("attempt %d on %s", n+1, w.name))
			}); err != nil {
				// Cancelled or revoked meanwhile, or the database failed:
				// no blank for it.
				if !errors.Is(err, jobqueue.ErrIllegalTransition) {
					w.giveBack(ctx, job, "database error")
				}
				return nil
			}
		}
		w.set(wPrinting, "", job.ID)
		again, next := w.attempt(ctx, p, n+1, nil)
		if !again {
			return next
		}
	}
}

// batchGoes re-reads the job's batch just before a blank is fed: a paused
// batch gets its job back in the queue, a cancelled one ends it.
func (w *worker) batchGoes(ctx context.Context, job jobqueue.JobMeta) bool {
	// A station released to print without the centre stops feeding as
	// soon as the centre says this database does not extend its record.
	if wit := w.e.Witness(); wit.State == "held" {
		w.giveBack(ctx, job, "printing held: the ledger does not extend what the centre witnessed")
		return false
	}
	st, err := w.e.batchState(ctx, job.Batch)
	if err != nil {
		w.giveBack(ctx, job, "database error before feeding")
		w.offline(fmt.Sprintf("reading batch %s failed (%v): no blank is fed until it can be read; retried every few seconds", job.Batch, err))
		return false
	}
	if st == batchStarted {
		return true
	}
	w.giveBack(ctx, job, fmt.Sprintf("batch %s is %s: no blank fed", job.Batch, st))
	return false
}

// attempt is one blank. It reports whether the job should go on to a new
// blank on this printer; when it says no, the job has been put where it
// belongs (printed, queue, attention, uncertain), and the next card is
// returned when this one handed over to it (chainNext). ch, when set, holds
// the blank's intent, already committed with the previous card's outcome.
func (w *worker) attempt(ctx context.Context, p *prepared, attempt int, ch *chained) (bool, *chained) {
	if w.desk != nil {
		return w.deskAttempt(ctx, p, attempt), nil
	}
	e := w.e
	job := p.meta
	log := e.log.With().Str("printer", w.name).Str("job", job.ID).Int("attempt", attempt).Logger()

	cctx, cancel := cardCtx(ctx, 10*time.Minute)
	defer cancel()

	var intent int64
	var ctr printer.Counters
	if ch != nil {
		intent, ctr = ch.intent, ch.ctr
		// A stop that came in the instant since the checks: the blank
		// has not moved, so the intent ends as not fed.
		if ctx.Err() != nil || w.isPaused() {
			w.notFed(cctx, job, intent, "not fed on "+w.name+": the printer or the station stopped before the blank moved")
			return false, nil
		}
	} else {
		if p.hasChp && w.enc == nil {
			// Checked before a blank moves: a chip job on a printer without
			// an encoder would only spoil blanks.
			w.e.toAttention(ctx, job, w.name, "printer "+w.name+" has no chip encoder configured; this job needs one: configure encoder_reader, or let another printer take it (retry)")
			return false, nil
		}
		var err error
		ctr, err = cardCounters(cctx, w.p)
		if err != nil {
			w.giveBack(ctx, job, "printer "+w.name+" did not answer before the feed")
			w.printerFault(err)
			return false, nil
		}
		// The cleaning policy, on the counter just read: no blank once the
		// head went clean_stop_cards cards without a cleaning.
		if w.cleaningStops(cctx, ctr) {
			w.giveBack(ctx, job, "printer "+w.name+" stopped for cleaning before the next blank")
			return false, nil
		}
		// The crash rule: the intent is durable before the blank moves.
		err = storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
			intent, err = w.writeIntent(cctx, tx, job.ID, attempt, ctr)
			return err
		})
		if err != nil {
			log.Error().Err(err).Msg("writing the intent record failed; no card fed")
			w.giveBack(ctx, job, "database error before feeding")
			w.offline(fmt.Sprintf("the station database refused the intent record (%v): no blank is fed; retried every few seconds", err))
			return false, nil
		}
		failpoint.Hit(failpoint.AfterIntent)
	}

	if err := w.p.Feed(cctx); err != nil {
		return w.failBeforeChip(ctx, cctx, p, intent, ctr.CardsInserted, err), nil
	}
	failpoint.Hit(failpoint.AfterFeed)
	var uid []byte
	if p.hasChp {
		if err := w.p.MoveTo(cctx, printer.StationContactless); err != nil {
			return w.failBeforeChip(ctx, cctx, p, intent, ctr.CardsInserted, err), nil
		}
		failpoint.Hit(failpoint.AtEncoder)
		chipCtx, cancelChip := context.WithTimeout(cctx, time.Duration(e.config().Engine.ChipTimeoutSeconds)*time.Second)
		res, err := w.enc.Personalize(chipCtx, p.perso)
		cancelChip()
		repeated := w.sameUID(res.UID)
		w.noteUID(res.UID)
		if err == nil && repeated {
			// The encoder wrote the card it held last time, not the new
			// blank: something else sits in its field.
			err = fmt.Errorf("%w: the encoder answered with the previous blank's chip", chip.ErrVerifyMismatch)
		}
		if err != nil {
			return w.chipFailed(ctx, cctx, p, intent, res.UID, err, repeated), nil
		}
		failpoint.Hit(failpoint.AfterChipVerify)
		uid = res.UID
	}
	return w.printAndEject(ctx, cctx, p, intent, ctr, uid)
}

// writeIntent records, in tx, that a blank is about to be fed for job on
// this printer, with the printer's card counter read just before.
func (w *worker) writeIntent(ctx context.Context, tx *sql.Tx, job string, attempt int, ctr printer.Counters) (int64, error) {
	res, err := tx.ExecContext(ctx, `INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES (?,?,?,?,?)`,
		job, w.name, attempt, ctr.CardsInserted, now())
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// notFed settles an intent whose blank certainly did not move (the worker
// never sent the feed) and puts its job back in the queue.
func (w *worker) notFed(ctx context.Context, job jobqueue.JobMeta, intent int64, why string) {
	e := w.e
	ctx = context.WithoutCancel(ctx)
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if err := resolveIntent(ctx, tx, intent, outOpen, outNotFed, ""); err != nil {
			return err
		}
		return e.requeue(ctx, tx, job, why)
	})
	if err != nil {
		// The intent stays open: the counter check settles it.
		e.log.Error().Err(err).Str("job", job.ID).Msg("recording an unfed blank failed; the counter check settles it")
	}
}

// chipFailed sends a blank whose chip failed to the reject box and decides
// whether the job gets another blank here.
func (w *worker) chipFailed(ctx, cctx context.Context, p *prepared, intent int64, uid []byte, err error, repeated bool) bool {
	job := p.meta
	reason := inventory.ReasonChipWrite
	if errors.Is(err, chip.ErrVerifyMismatch) {
		reason = inventory.ReasonChipVerify
	}
	w.e.log.Warn().Err(err).Str("printer", w.name).Str("job", job.ID).Msg("chip failed; card to the reject box")
	rerr := w.p.Reject(cctx)
	if !w.spoil(cctx, p, intent, uid, reason, "chip: "+err.Error()) {
		return false
	}
	tripped := w.breaker("the chip", repeated)
	switch {
	case rerr != nil:
		// The spoiled card is still inside; the job must not wait for it.
		w.giveBack(ctx, job, "chip failed on "+w.name+" and the card could not be moved to the reject box")
		w.printerFault(rerr)
		return false
	case tripped:
		// The card loop gives the job back (or to a person at its bound).
		return true
	case errors.Is(err, chip.ErrServiceDown) || errors.Is(err, chip.ErrReaderGone):
		// The encoder, not the card, failed: stop feeding blanks into it
		// and let another printer take the job.
		w.giveBack(ctx, job, "chip encoder of "+w.name+" failed")
		w.offline(fmt.Sprintf("chip encoder of printer %s failed: %v — retried every few seconds", w.name, err))
		w.withCode(PrinterEncoderDown)
		return false
	}
	return true
}

func (w *worker) printAndEject(ctx, cctx context.Context, p *prepared, intent int64, ctr printer.Counters, uid []byte) (bool, *chained) {
	e := w.e
	job := p.meta
	if err := w.p.Print(cctx, printer.Front, p.front); err != nil {
		reason := inventory.ReasonPrint
		if errors.Is(err, printer.ErrJam) {
			reason = inventory.ReasonJam
		}
		rerr := w.p.Reject(cctx)
		recorded := w.spoil(cctx, p, intent, uid, reason, "print: "+err.Error())
		w.releasePending(ctx)
		if recorded {
			w.giveBack(ctx, job, "printer "+w.name+" failed: another printer may take it")
			w.breaker("printing", false)
		}
		// Every print failure is the printer's: it stops (printerFaults).
		if rerr != nil {
			err = errors.Join(err, rerr)
		}
		w.printerFault(err)
		return false, nil
	}
	failpoint.Hit(failpoint.AfterPrint)
	// The next job is claimed and prepared (rendered, rasterized) while
	// this card's last panel prints and it leaves the printer — in time
	// for the hand-over (chainNext waits for it), and not earlier: started
	// before the print, its CPU ran just as this card's first panel was
	// sent, and on a busy core the download waited for it (≈ 11 ms a card
	// with four printers on one core, docs/bench/station.md).
	w.prefetch(ctx)
	if err := w.p.Eject(cctx); err != nil {
		// The card is done (chip verified, face printed) but stuck at the
		// exit, or the link dropped while it went: only a person can say
		// whether it is good.
		w.releasePending(ctx)
		spoilAs := inventory.ReasonCrashUnconfirmed
		if errors.Is(err, printer.ErrJam) {
			spoilAs = inventory.ReasonJam
		}
		reason := fmt.Sprintf("the card of this job is stuck at the exit of printer %s or its eject was not confirmed (%v): find it; confirm it if it is good (its chip is read back) or spoil it", w.name, err)
		terr := storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
			if err := resolveIntent(cctx, tx, intent, outOpen, outUncertain, uidText(uid)); err != nil {
				return err
			}
			if _, err := tx.ExecContext(cctx, `UPDATE station_intents SET spoil_reason=?, note=? WHERE id=?`, spoilAs, reason, intent); err != nil {
				return err
			}
			return e.queue.SetStateDetail(cctx, tx, job.ID, jobqueue.Uncertain, jobqueue.Detail{Reason: reason, Printer: w.name, UID: uidText(uid), Code: WaitStuckAtExit})
		})
		if terr != nil {
			// The intent stays open: the counter check settles it.
			e.log.Error().Err(terr).Str("job", job.ID).Msg("recording an uncertain card failed; the counter check settles it")
		}
		e.publish(Event{Type: "job_uncertain", Job: job.ID, Printer: w.name, Message: reason})
		w.printerFault(err)
		return false, nil
	}
	failpoint.Hit(failpoint.AfterEject)
	return false, w.finish(ctx, cctx, p, intent, ctr, uid)
}

// consumed records the finished card: the ledger event, the intent and the
// job's end are one transaction, retried because losing it would lose a
// count (the crash rule covers a daemon that dies here).
func (w *worker) consumed(ctx, cctx context.Context, p *prepared, intent int64, uid []byte) {
	e := w.e
	job := p.meta
	var err error
	failpoint.Hit(failpoint.BeforeCommit)
	for try := 0; try < 5; try++ {
		err = storage.InTx(cctx, e.db, func(tx *sql.Tx) error { return w.recordConsumed(cctx, tx, job, intent, uid) })
		if err == nil || errors.Is(err, errIntentMoved) || !sleepCtx(cctx, 200*time.Millisecond) {
			break
		}
	}
	if err != nil {
		w.pause(wAttention, fmt.Sprintf("the card of job %s is out of printer %s but the ledger could not record it (%v): keep the card aside; the station checks the printer's counter before the next card and the job shows in the attention list", job.ID, w.name, err))
		w.withCode(PrinterRecordFailed)
		return
	}
	failpoint.Hit(failpoint.AfterCommit)
	w.printedOne(job, uid)
}

// recordConsumed writes the finished card in tx: the ledger event, the
// intent and the job's end.
func (w *worker) recordConsumed(ctx context.Context, tx *sql.Tx, job jobqueue.JobMeta, intent int64, uid []byte) error {
	e := w.e
	if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Consumed, Actor: e.ec.Actor, Printer: w.name, Job: job.ID, UID: uidText(uid)}); err != nil {
		return err
	}
	if err := resolveIntent(ctx, tx, intent, outOpen, outConsumed, uidText(uid)); err != nil {
		return err
	}
	return e.queue.SetStateDetail(ctx, tx, job.ID, jobqueue.Printed, jobqueue.Detail{Reason: "printed on " + w.name, Printer: w.name, UID: uidText(uid)})
}

// printedOne counts and announces a card whose record is committed.
func (w *worker) printedOne(job jobqueue.JobMeta, uid []byte) {
	w.mu.Lock()
	w.printed++
	w.fails = 0
	w.job = ""
	w.mu.Unlock()
	w.e.log.Info().Str("printer", w.name).Str("job", job.ID).Msg("card printed")
	w.e.publish(Event{Type: "card_printed", Printer: w.name, Job: job.ID, Batch: job.Batch, UID: uidText(uid)})
}

// sleepCtx waits d or until ctx ends; it reports whether the whole wait passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// spoil records a spoiled blank, its intent and the job waiting for a new
// blank, in one transaction. It reports whether the record was written; if
// not, the worker is paused and the intent stays open for the counter check.
func (w *worker) spoil(ctx context.Context, p *prepared, intent int64, uid []byte, reason, detail string) bool {
	e := w.e
	job := p.meta
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: e.ec.Actor, Printer: w.name, Job: job.ID, UID: uidText(uid), Reason: reason}); err != nil {
			return err
		}
		if err := resolveIntent(ctx, tx, intent, outOpen, outSpoiled, uidText(uid)); err != nil {
			return err
		}
		return e.queue.SetStateDetail(ctx, tx, job.ID, jobqueue.SpoiledWaiting, jobqueue.Detail{Reason: reason + ": " + detail, Printer: w.name, UID: uidText(uid)})
	})
	if err != nil {
		w.pause(wAttention, fmt.Sprintf("a spoiled card of job %s could not be recorded (%v): keep it aside; the station checks the printer's counter before the next card", job.ID, err))
		w.withCode(PrinterRecordFailed)
		return false
	}
	w.mu.Lock()
	w.spoiled++
	w.mu.Unlock()
	e.log.Warn().Str("printer", w.name).Str("job", job.ID).Str("reason", reason).Msg("card spoiled")
	e.publish(Event{Type: "card_spoiled", Printer: w.name, Job: job.ID, Batch: job.Batch, UID: uidText(uid), Message: reason + ": " + detail})
	return true
}

// failBeforeChip handles a feed or move that failed: whether a blank left
// the feeder is read from the printer's own counter, not guessed.
func (w *worker) failBeforeChip(ctx, cctx context.Context, p *prepared, intent, before int64, err error) bool {
	e := w.e
	job := p.meta
	after, cerr := w.p.Counters(cctx)
	switch {
	case cerr != nil:
		// Unknown whether a blank moved: the intent stays open, the job is
		// uncertain (shown to people) and the counter check settles it
		// when the printer answers again, exactly as after a restart.
		e.markUnknown(cctx, intent, job, w.name, fmt.Sprintf("printer %s stopped answering while feeding a blank for this job (%v): whether a blank left the feeder is unknown; the station reads the printer's card counter when it answers again", w.name, err))
		w.printerFault(err)
		return false
	case after.CardsInserted == before:
		terr := storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
			if err := resolveIntent(cctx, tx, intent, outOpen, outNotFed, ""); err != nil {
				return err
			}
			return e.requeue(cctx, tx, job, "printer "+w.name+": "+err.Error())
		})
		e.unhold(job.ID, w.name)
		if terr != nil {
			e.log.Error().Err(terr).Str("job", job.ID).Msg("recording an unfed blank failed; the counter check settles it")
		}
		w.printerFault(err)
		return false
	}
	reason := inventory.ReasonMisfeed
	if errors.Is(err, printer.ErrJam) {
		reason = inventory.ReasonJam
	}
	rerr := w.p.Reject(cctx)
	if w.spoil(cctx, p, intent, nil, reason, "feed: "+err.Error()) {
		w.giveBack(ctx, job, "printer "+w.name+" failed: another printer may take it")
	}
	if rerr != nil {
		err = errors.Join(err, rerr)
	}
	w.printerFault(err)
	return false
}

// printerFault stops the printer as printerFaults says, with what a person
// must do (the driver's typed error says it; the worker adds how to go on).
func (w *worker) printerFault(err error) {
	if faultFor(err) == faultOffline {
		w.offline(err.Error() + " — retried every few seconds")
		w.withCode(printerErrCode(err))
		return
	}
	w.pause(wPaused, err.Error()+fmt.Sprintf(" — then resume: printstationctl printer resume %s", w.name))
	w.withCode(printerErrCode(err))
}

// noteUID remembers the chip UID the encoder reported for this blank.
func (w *worker) noteUID(uid []byte) {
	if len(uid) == 0 {
		return
	}
	w.mu.Lock()
	w.lastUID = append([]byte(nil), uid...)
	w.mu.Unlock()
}

// sameUID reports whether uid is the one the encoder reported last: a new
// blank cannot carry the previous blank's chip.
func (w *worker) sameUID(uid []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(uid) > 0 && bytes.Equal(uid, w.lastUID)
}

// breaker counts a failed blank; it stops the printer after the configured
// number in a row, or at once when the encoder reported the previous
// blank's chip again. It reports whether it stopped the printer.
func (w *worker) breaker(what string, repeated bool) bool {
	limit := w.e.config().Engine.BreakerFailures
	if limit < 1 {
		limit = 3
	}
	w.mu.Lock()
	w.fails++
	n := w.fails
	w.mu.Unlock()
	switch {
	case repeated:
		w.pause(wPaused, fmt.Sprintf("printer %s stopped: its encoder reported the same chip for two blanks in a row, so a card other than the new blank sits at the encoder (a foreign or stuck card): open the printer, take out any card at the encoder, then resume (printstationctl printer resume %s)", w.name, w.name))
		return true
	case n >= limit:
		w.pause(wPaused, fmt.Sprintf("printer %s stopped: %d blanks in a row failed (last at %s), so the printer or its encoder is suspect, not the cards: check it (printstationctl diag), then resume (printstationctl printer resume %s)", w.name, n, what, w.name))
		return true
	}
	return false
}
