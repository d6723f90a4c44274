package station

import (
	"context"
	"database/sql"
	"time"

	"printstation/internal/failpoint"
	"printstation/printer"
	"printstation/printer/raster"
	"printstation/storage"
)

// From one card to the next. Between a card's eject and the next blank's
// feed the printer stands still, and at speed the station's share of that
// pause shows in every card's cycle. Once a card is out, the worker reads
// the printer once for the next card (status, counters), makes every check
// it makes before any blank (chainNext), and commits the finished card's
// outcome and the next blank's intent in one transaction: one durable
// write (one fsync) where there were two, and the printer is not let go
// between the two cards, so nothing can move a card in between.
//
// The crash rule is unchanged (docs/CRASH.md): before that commit the
// finished card's intent is open and its counter moved (uncertain, a
// person looks; the next job was only claimed: it goes back to the queue);
// after it, the finished card is counted and the next intent is open with
// the counter as it stands now (unchanged at the restart: the job goes back
// to the queue; moved: uncertain).
//
// When any check says no, nothing is chained: the finished card is
// committed alone and the next card goes the ordinary way, whose checks
// then pause the printer and say why.

// chainReadBound bounds the reading and checks between two cards.
const chainReadBound = 5 * time.Second

// chained is the next card, checked, whose intent is committed with the
// previous card's outcome.
type chained struct {
	pp      *pendingPrep
	p       *prepared
	attempt int
	ctr     printer.Counters // read after the previous card's eject
	intent  int64
}

// finish records a card that left the printer: with the next card's intent
// when the next card can go at once (chainNext), else alone (consumed). It
// returns the chained next card, if any.
func (w *worker) finish(ctx, cctx context.Context, p *prepared, intent int64, ctr printer.Counters, uid []byte) *chained {
	e := w.e
	next := w.chainNext(ctx, cctx, intent, ctr)
	if next == nil {
		w.consumed(ctx, cctx, p, intent, uid)
		return nil
	}
	failpoint.Hit(failpoint.BeforeChainCommit)
	err := storage.InTx(cctx, e.db, func(tx *sql.Tx) error {
		if err := w.recordConsumed(cctx, tx, p.meta, intent, uid); err != nil {
			return err
		}
		id, err := w.writeIntent(cctx, tx, next.p.meta.ID, next.attempt, next.ctr)
		next.intent = id
		return err
	})
	if err != nil {
		// Nothing of the pair was written: the card's record alone, with
		// its retries; the next job waits as prepared, the ordinary way.
		e.log.Warn().Err(err).Str("printer", w.name).Str("job", p.meta.ID).Msg("committing the card with the next card's intent failed; the card alone")
		w.mu.Lock()
		if w.pending == nil {
			w.pending = next.pp
		} else {
			// Cannot happen (the worker alone prefetches, and not
			// before this card's next feed); never lose the job.
			defer w.giveBack(ctx, next.p.meta, "not started on "+w.name)
		}
		w.mu.Unlock()
		w.consumed(ctx, cctx, p, intent, uid)
		return nil
	}
	failpoint.Hit(failpoint.AfterChainCommit)
	w.printedOne(p.meta, uid)
	return next
}

// chainNext makes, for the job prepared during this card, every check the
// worker makes before a blank (ready, card, attempt), on the printer just
// read once after the eject: it returns the next card when all pass, nil
// otherwise — then the ordinary path makes them again and says what is
// wrong. prev is the finished card's intent, still open. It takes the next
// job out of w.pending.
func (w *worker) chainNext(ctx, cctx context.Context, prev int64, prevCtr printer.Counters) *chained {
	e := w.e
	if w.desk != nil || ctx.Err() != nil || e.draining.Load() || w.wanted.Load() > 0 || w.isPaused() || w.cleaningStopped() {
		return nil
	}
	w.mu.Lock()
	pp := w.pending
	w.mu.Unlock()
	if pp == nil {
		return nil
	}
	// The next job is claimed; its preparation (CPU only) is waited for:
	// at a printer's pace it was ready long ago.
	select {
	case <-pp.done:
	case <-ctx.Done():
		return nil
	}
	p := pp.p
	if pp.err != nil || p == nil {
		return nil
	}
	if p.hasChp && w.enc == nil {
		return nil
	}
	if r := e.rasterOptions(w.name).Ribbon; r != "" {
		if _, err := raster.RibbonPanels(r); err != nil {
			return nil
		}
	}
	// The finished card's record waits for this reading: a printer slow
	// to answer between cards gets the ordinary path (card committed
	// alone, then the 30 s reading), so a power cut meanwhile finds at
	// most these few seconds' card uncertain. 5 s covers seven replies
	// that end by the driver's 300 ms of silence.
	sctx, cancel := context.WithTimeout(cctx, chainReadBound)
	defer cancel()
	if r, ok := w.enc.(interface{ Ready(context.Context) error }); ok {
		if err := r.Ready(sctx); err != nil {
			return nil
		}
	}
	st, err := w.p.Status(sctx)
	if err != nil || (st.Card != printer.PositionNone && st.Card != 0) || (!st.Ready && len(st.Problems) > 0) {
		return nil
	}
	ctr, err := cardCounters(sctx, w.p)
	// The card just out was the only blank since the intent's reading:
	// any other count means something else fed a card (or the counter
	// cannot be trusted); the ordinary path reads it again.
	if err != nil || ctr.CardsInserted != prevCtr.CardsInserted+1 {
		return nil
	}
	// The cleaning policy (when on): a due cleaning stops the printer the
	// ordinary way, which gives the next job back.
	if e.config().Engine.CleanStopCards > 0 {
		if cs, err := e.cleaning(sctx, w, ctr); err != nil || cs.Since < 0 || cs.Due {
			return nil
		}
		if w.cleaningStops(sctx, ctr) { // not due: only the early warning
			return nil
		}
	}
	job := p.meta
	n, err := e.attempts(sctx, job.ID)
	if err != nil || n >= e.config().Engine.MaxAttempts {
		return nil
	}
	if e.Witness().State == "held" {
		return nil
	}
	if bs, err := e.batchState(sctx, job.Batch); err != nil || bs != batchStarted {
		return nil
	}
	// The ledger still counts the card just out as in the printer.
	stock, err := e.ledger.Stock(sctx)
	if err != nil || stock.Printers[w.name]-1 <= 0 {
		return nil
	}
	// No other card of this printer unsettled (the counter check would
	// have to settle it first, the ordinary way).
	opens, err := e.openIntents(sctx, w.name)
	if err != nil || len(opens) != 1 || opens[0].id != prev {
		return nil
	}
	if w.wanted.Load() > 0 || w.isPaused() {
		return nil
	}
	w.mu.Lock()
	if w.pending != pp {
		w.mu.Unlock()
		return nil
	}
	w.pending = nil
	w.mu.Unlock()
	return &chained{pp: pp, p: p, attempt: n + 1, ctr: ctr}
}
