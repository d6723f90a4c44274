package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"printstation/chip"
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

	mu      sync.Mutex
	state   string // idle, printing, paused, attention, offline, stopped
	message string
	job     string
	printed int
	spoiled int
	pending *pendingPrep
	desk    *deskState // encoder = "desk": the operator's step (desk.go)
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
	return &worker{e: e, name: name, p: p, enc: enc, wake: make(chan struct{}, 1), state: "idle"}
}

func (w *worker) snapshot() PrinterState {
	w.mu.Lock()
	defer w.mu.Unlock()
	ps := PrinterState{Name: w.name, State: w.state, Message: w.message, Job: w.job, Printed: w.printed, Spoiled: w.spoiled}
	if w.desk != nil {
		v := w.desk.get()
		ps.Desk = &localapi.DeskStep{Step: v.Step, Job: v.Job, Message: v.Message}
	}
	return ps
}

func (w *worker) set(state, msg, job string) {
	w.mu.Lock()
	w.state, w.message, w.job = state, msg, job
	w.mu.Unlock()
}

// pause stops the printer until a person resumes it, saying what to do.
func (w *worker) pause(state, msg string) {
	w.set(state, msg, "")
	w.e.log.Warn().Str("printer", w.name).Str("state", state).Msg(msg)
	w.e.publish(Event{Type: "printer_" + state, Printer: w.name, Message: msg})
}

// offline pauses for a fault that mends itself (a link, a service): the
// worker tries again by itself after a few seconds.
func (w *worker) offline(msg string) {
	w.pause("offline", msg)
	time.AfterFunc(5*time.Second, w.resume)
}

func (w *worker) isPaused() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.state == "paused" || w.state == "attention" || w.state == "offline"
}

// Resume lets a paused printer go on; the worker re-checks the printer.
func (w *worker) resume() {
	w.mu.Lock()
	if w.state == "paused" || w.state == "attention" || w.state == "offline" {
		w.state, w.message = "idle", ""
	}
	w.mu.Unlock()
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
	defer w.releasePending(context.Background())
	for ctx.Err() == nil {
		if w.e.draining.Load() {
			w.set("stopped", "station stopping", "")
			return
		}
		if w.isPaused() {
			w.sleep(ctx, 5*time.Second)
			continue
		}
		if !w.ready(ctx) {
			continue
		}
		p, err := w.next(ctx)
		if err != nil {
			w.e.log.Error().Err(err).Str("printer", w.name).Msg("taking the next job failed")
			w.sleep(ctx, 2*time.Second)
			continue
		}
		if p == nil {
			w.set("idle", "", "")
			w.sleep(ctx, time.Second)
			continue
		}
		w.busy.Store(true)
		w.card(ctx, p)
		w.busy.Store(false)
	}
}

// ready checks, before a blank is taken, that the printer answers and that
// the ledger has blanks in it: the ledger must be able to record the card.
func (w *worker) ready(ctx context.Context) bool {
	// The configured ribbon chooses the panels (engine.rasterOptions); one
	// with no panel layout is the printer's set-up, not every job's fault.
	if r := w.e.rasterOptions(w.name).Ribbon; r != "" {
		if _, err := raster.RibbonPanels(r); err != nil {
			w.pause("paused", fmt.Sprintf("printer %s: %v — set ribbon to ymcko, ymckok, ko or k in its configuration, reload, then resume", w.name, err))
			return false
		}
	}
	st, err := w.p.Status(ctx)
	if err != nil {
		w.offline(fmt.Sprintf("printer %s does not answer: %v — check its cable and power; it is retried every few seconds", w.name, err))
		return false
	}
	if st.Card != printer.PositionNone && st.Card != 0 {
		// Every fed blank has an intent record, so a card no job owns was
		// already counted (spoiled when its reject failed): it only has to
		// come out.
		w.pause("attention", fmt.Sprintf("printer %s has a card inside (%s) that no job is waiting for; the ledger has counted it already: open the printer, take the card out, put it with the spoiled cards, then resume (printstationctl printer resume %s)", w.name, st.Card, w.name))
		return false
	}
	if !st.Ready && len(st.Problems) > 0 {
		w.pause("paused", fmt.Sprintf("printer %s is not ready: %v — fix it, then resume", w.name, st.Problems))
		return false
	}
	if r, ok := w.enc.(interface{ Ready(context.Context) error }); ok {
		if err := r.Ready(ctx); err != nil {
			w.offline(fmt.Sprintf("chip encoder of printer %s is not reachable: %v — no blank is fed until it is; retried every few seconds", w.name, err))
			return false
		}
	}
	stock, err := w.e.ledger.Stock(ctx)
	if err == nil && stock.Printers[w.name] <= 0 {
		w.pause("paused", fmt.Sprintf("the ledger has no blanks loaded in printer %s: load cards and record it (printstationctl stock load --printer %s --quantity N), then resume", w.name, w.name))
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
		w.toQueue(ctx, pp.meta.ID, "not started on "+w.name)
	}
}

func (w *worker) toQueue(ctx context.Context, jobID, why string) {
	err := storage.InTx(ctx, w.e.db, func(tx *sql.Tx) error {
		return w.e.queue.SetState(ctx, tx, jobID, jobqueue.Queued, why)
	})
	if err != nil {
		w.e.log.Error().Err(err).Str("job", jobID).Msg("returning a job to the queue failed; it is returned at the next start")
	}
}

// jobProblem puts a job that cannot be prepared aside for a person.
func (w *worker) jobProblem(ctx context.Context, meta jobqueue.JobMeta, err error) {
	reason := "cannot prepare the card: " + err.Error()
	w.e.log.Error().Str("job", meta.ID).Str("printer", w.name).Err(err).Msg("job needs a person")
	storage.InTx(ctx, w.e.db, func(tx *sql.Tx) error {
		return w.e.queue.SetState(ctx, tx, meta.ID, jobqueue.Attention, reason)
	})
	w.e.publish(Event{Type: "job_attention", Job: meta.ID, Batch: meta.Batch, Printer: w.name, Message: reason})
}

// cardCtx bounds one physical step so a card never waits forever.
func cardCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// card runs one job through the printer: feed, chip, print, eject, with
// retries on new blanks up to the bound. Once a blank is fed the card is
// finished even when the daemon is stopping (context.WithoutCancel): a
// half-done card is worse than a short delay in shutting down.
func (w *worker) card(ctx context.Context, p *prepared) {
	job := p.meta
	e := w.e
	maxAttempts := e.config().Engine.MaxAttempts
	for {
		n, err := e.attempts(ctx, job.ID)
		if err != nil {
			w.toQueue(ctx, job.ID, "database error")
			return
		}
		if n >= maxAttempts {
			reason := fmt.Sprintf("%d blanks spoiled for this job (the bound is %d): check the printer and the chip data, then retry or cancel it", n, maxAttempts)
			storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				return e.queue.SetState(ctx, tx, job.ID, jobqueue.Attention, reason)
			})
			e.publish(Event{Type: "job_attention", Job: job.ID, Batch: job.Batch, Printer: w.name, Message: reason})
			return
		}
		if n > 0 {
			// A new blank for a job whose last one was spoiled.
			if err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				return e.queue.SetState(ctx, tx, job.ID, jobqueue.Printing, fmt.Sprintf("attempt %d on %s", n+1, w.name))
			}); err != nil && !errors.Is(err, jobqueue.ErrIllegalTransition) {
				w.toQueue(ctx, job.ID, "database error")
				return
			}
		}
		w.set("printing", "", job.ID)
		again := w.attempt(ctx, p, n+1)
		if !again {
			return
		}
	}
}

// attempt is one blank. It reports whether the job should go on to a new
// blank on this printer.
func (w *worker) attempt(ctx context.Context, p *prepared, attempt int) bool {
	if w.desk != nil {
		return w.deskAttempt(ctx, p, attempt)
	}
	e := w.e
	job := p.meta
	log := e.log.With().Str("printer", w.name).Str("job", job.ID).Int("attempt", attempt).Logger()

	cctx, cancel := cardCtx(ctx, 10*time.Minute)
	defer cancel()

	ctr, err := w.p.Counters(cctx)
	if err != nil {
		w.toQueue(ctx, job.ID, "printer "+w.name+" did not answer")
		w.printerFault(err, "")
		return false
	}
	// The crash rule: the intent is durable before the blank moves.
	var intent int64
	err = storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(cctx, `INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES (?,?,?,?,?)`,
			job.ID, w.name, attempt, ctr.CardsInserted, now())
		if err != nil {
			return err
		}
		intent, err = res.LastInsertId()
		return err
	})
	if err != nil {
		log.Error().Err(err).Msg("writing the intent record failed; no card fed")
		w.toQueue(ctx, job.ID, "database error before feeding")
		return false
	}

	if err := w.p.Feed(cctx); err != nil {
		return w.failBeforeChip(ctx, cctx, p, intent, ctr.CardsInserted, err)
	}
	if p.hasChp {
		if w.enc == nil {
			w.spoil(cctx, p, intent, nil, inventory.ReasonOperator, "printer "+w.name+" has no encoder configured")
			w.e.releaseAttention(ctx, job, "printer "+w.name+" has no chip encoder; this job needs one")
			return false
		}
		if err := w.p.MoveTo(cctx, printer.StationContactless); err != nil {
			return w.failBeforeChip(ctx, cctx, p, intent, ctr.CardsInserted, err)
		}
		chipCtx, cancelChip := context.WithTimeout(cctx, time.Duration(e.config().Engine.ChipTimeoutSeconds)*time.Second)
		res, err := w.enc.Personalize(chipCtx, p.perso)
		cancelChip()
		if err != nil {
			reason := inventory.ReasonChipWrite
			if errors.Is(err, chip.ErrVerifyMismatch) {
				reason = inventory.ReasonChipVerify
			}
			log.Warn().Err(err).Msg("chip failed; card to the reject box")
			if rerr := w.p.Reject(cctx); rerr != nil {
				w.spoil(cctx, p, intent, res.UID, reason, "chip: "+err.Error())
				w.printerFault(rerr, job.ID)
				return false
			}
			w.spoil(cctx, p, intent, res.UID, reason, "chip: "+err.Error())
			if errors.Is(err, chip.ErrServiceDown) || errors.Is(err, chip.ErrReaderGone) {
				// The encoder, not the card, failed: stop feeding blanks
				// into it and let another printer take the job.
				w.toQueue(ctx, job.ID, "chip encoder of "+w.name+" failed")
				w.offline(fmt.Sprintf("chip encoder of printer %s failed: %v — retried every few seconds", w.name, err))
				return false
			}
			return true
		}
		w.prefetch(ctx)
		return w.printAndEject(ctx, cctx, p, intent, res.UID)
	}
	w.prefetch(ctx)
	return w.printAndEject(ctx, cctx, p, intent, nil)
}

func (w *worker) printAndEject(ctx, cctx context.Context, p *prepared, intent int64, uid []byte) bool {
	e := w.e
	job := p.meta
	if err := w.p.Print(cctx, printer.Front, p.front); err != nil {
		reason := inventory.ReasonPrint
		if errors.Is(err, printer.ErrJam) {
			reason = inventory.ReasonJam
		}
		rerr := w.p.Reject(cctx)
		w.spoil(cctx, p, intent, uid, reason, "print: "+err.Error())
		w.releasePending(ctx)
		if rerr != nil || isPrinterFault(err) {
			w.toQueueAfterSpoil(ctx, job.ID, "printer "+w.name+" failed: another printer may take it")
			w.printerFault(err, job.ID)
			return false
		}
		return true
	}
	if err := w.p.Eject(cctx); err != nil {
		// The card is done (chip verified, face printed) but stuck at the
		// exit: only a person can say whether it is good.
		w.releasePending(ctx)
		reason := fmt.Sprintf("card for this job is stuck at the exit of printer %s (%v): take it out, then confirm it if it is good or spoil it", w.name, err)
		storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(cctx, `UPDATE station_intents SET resolved_at=?, resolution='uncertain', uid=? WHERE id=?`, now(), uidText(uid), intent); err != nil {
				return err
			}
			return e.queue.SetState(cctx, tx, job.ID, jobqueue.Uncertain, reason)
		})
		e.publish(Event{Type: "job_uncertain", Job: job.ID, Printer: w.name, Message: reason})
		w.printerFault(err, job.ID)
		return false
	}
	w.consumed(cctx, p, intent, uid)
	return false
}

// consumed records the finished card: the ledger event, the intent and the
// job's end are one transaction, retried because losing it would lose a
// count (the crash rule covers a daemon that dies here).
func (w *worker) consumed(ctx context.Context, p *prepared, intent int64, uid []byte) {
	e := w.e
	job := p.meta
	var err error
	for try := 0; try < 5; try++ {
		err = storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
			if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Consumed, Actor: e.ec.Actor, Printer: w.name, Job: job.ID, UID: uidText(uid)}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolved_at=?, resolution='consumed', uid=? WHERE id=?`, now(), uidText(uid), intent); err != nil {
				return err
			}
			return e.queue.SetStateDetail(ctx, tx, job.ID, jobqueue.Printed, jobqueue.Detail{Reason: "printed on " + w.name, Printer: w.name, UID: uidText(uid)})
		})
		if err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		w.pause("attention", fmt.Sprintf("card for job %s is out of printer %s but the ledger could not record it (%v): keep the card aside; the station checks it at the next start", job.ID, w.name, err))
		return
	}
	w.mu.Lock()
	w.printed++
	w.job = ""
	w.mu.Unlock()
	e.log.Info().Str("printer", w.name).Str("job", job.ID).Msg("card printed")
	e.publish(Event{Type: "card_printed", Printer: w.name, Job: job.ID, Batch: job.Batch, UID: uidText(uid)})
}

// spoil records a spoiled blank, its intent and the job waiting for a new
// blank, in one transaction.
func (w *worker) spoil(ctx context.Context, p *prepared, intent int64, uid []byte, reason, detail string) {
	e := w.e
	job := p.meta
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		if _, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: e.ec.Actor, Printer: w.name, Job: job.ID, UID: uidText(uid), Reason: reason}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE station_intents SET resolved_at=?, resolution='spoiled', uid=? WHERE id=?`, now(), uidText(uid), intent); err != nil {
			return err
		}
		return e.queue.SetStateDetail(ctx, tx, job.ID, jobqueue.SpoiledWaiting, jobqueue.Detail{Reason: reason + ": " + detail, Printer: w.name, UID: uidText(uid)})
	})
	if err != nil {
		w.pause("attention", fmt.Sprintf("a spoiled card of job %s could not be recorded (%v): keep it aside; the station checks it at the next start", job.ID, err))
		return
	}
	w.mu.Lock()
	w.spoiled++
	w.mu.Unlock()
	e.log.Warn().Str("printer", w.name).Str("job", job.ID).Str("reason", reason).Msg("card spoiled")
	e.publish(Event{Type: "card_spoiled", Printer: w.name, Job: job.ID, Batch: job.Batch, UID: uidText(uid), Message: reason + ": " + detail})
}

func (w *worker) toQueueAfterSpoil(ctx context.Context, jobID, why string) {
	w.toQueue(ctx, jobID, why)
}

// failBeforeChip handles a feed or move that failed: whether a blank left
// the feeder is read from the printer's own counter, not guessed.
func (w *worker) failBeforeChip(ctx, cctx context.Context, p *prepared, intent, before int64, err error) bool {
	e := w.e
	after, cerr := w.p.Counters(cctx)
	if cerr == nil && after.CardsInserted == before {
		e.db.ExecContext(cctx, `UPDATE station_intents SET resolved_at=?, resolution='not_fed' WHERE id=?`, now(), intent)
		w.toQueue(ctx, p.meta.ID, "printer "+w.name+": "+err.Error())
		w.printerFault(err, "")
		return false
	}
	if cerr != nil {
		// Unknown whether a blank moved: the intent stays open and the
		// job waits for the recovery check, exactly as after a crash.
		w.printerFault(err, p.meta.ID)
		return false
	}
	reason := inventory.ReasonMisfeed
	if errors.Is(err, printer.ErrJam) {
		reason = inventory.ReasonJam
	}
	w.p.Reject(cctx)
	w.spoil(cctx, p, intent, nil, reason, "feed: "+err.Error())
	w.toQueue(ctx, p.meta.ID, "printer "+w.name+" failed: another printer may take it")
	w.printerFault(err, p.meta.ID)
	return false
}

func isPrinterFault(err error) bool {
	for _, k := range []error{printer.ErrJam, printer.ErrFeederEmpty, printer.ErrRibbonOut, printer.ErrRibbonMismatch,
		printer.ErrCoverOpen, printer.ErrRejectFull, printer.ErrNeedsCleaning, printer.ErrDisconnected, printer.ErrTimeout, printer.ErrBusy} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// printerFault pauses the printer with what a person must do. The driver's
// typed errors already say it; the worker adds how to go on.
func (w *worker) printerFault(err error, job string) {
	if errors.Is(err, printer.ErrDisconnected) || errors.Is(err, printer.ErrTimeout) {
		w.offline(err.Error())
		return
	}
	w.pause("paused", err.Error()+fmt.Sprintf(" — then resume: printstationctl printer resume %s", w.name))
}

// releaseAttention puts a job aside for a person.
func (e *Engine) releaseAttention(ctx context.Context, job jobqueue.JobMeta, reason string) {
	storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		return e.queue.SetState(ctx, tx, job.ID, jobqueue.Attention, reason)
	})
	e.publish(Event{Type: "job_attention", Job: job.ID, Batch: job.Batch, Message: reason})
}
