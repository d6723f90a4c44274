package station

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/logging"
)

// The engine's events that an operator or a log pipeline alerts on go to
// the journal with a stable MESSAGE_ID (logging.Msg*, docs/JOURNAL.md). They
// are written where every such event passes, the event hub, so that each
// path that spoils a card or stops a printer is covered.

// journalRepeat is how often an unchanged stop of a printer is written
// again (an offline printer is retried every few seconds).
const journalRepeat = 10 * time.Minute

type journalState struct {
	mu   sync.Mutex
	last map[string]journalSeen // printer → its last stop written
}

type journalSeen struct {
	what string
	at   time.Time
}

func (e *Engine) journal(ev Event) {
	switch {
	case ev.Type == "card_spoiled":
		e.log.Warn().Str(logging.MessageID, logging.MsgCardSpoiled).Str("printer", ev.Printer).Str("job", ev.Job).
			Str("batch", ev.Batch).Str("detail", ev.Message).Msg("card spoiled")
	case strings.HasPrefix(ev.Type, "printer_") && ev.Type != "printer_resumed":
		state := strings.TrimPrefix(ev.Type, "printer_")
		if !e.journaled.first(ev.Printer, state+"\x00"+ev.Message) {
			return
		}
		e.log.Warn().Str(logging.MessageID, logging.MsgPrinterPaused).Str("printer", ev.Printer).Str("state", state).
			Str("detail", ev.Message).Msgf("printer %s %s: %s", ev.Printer, state, ev.Message)
	case ev.Type == "printer_resumed":
		e.journaled.forget(ev.Printer)
	}
}

// first reports whether what is new for printer (or last written long ago).
func (j *journalState) first(printer, what string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.last == nil {
		j.last = map[string]journalSeen{}
	}
	if s, ok := j.last[printer]; ok && s.what == what && time.Since(s.at) < journalRepeat {
		return false
	}
	j.last[printer] = journalSeen{what: what, at: time.Now()}
	return true
}

func (j *journalState) forget(printer string) {
	j.mu.Lock()
	delete(j.last, printer)
	j.mu.Unlock()
}

// watchedCentral writes to the journal when the centre stops answering and
// when it answers again. A blip is not worth a person's attention: the
// first failure is written once failures have lasted unreachableAfter.
type watchedCentral struct {
	jobqueue.Central
	log zerolog.Logger

	mu        sync.Mutex
	failSince time.Time // first failure of the current run; zero: answering
	told      bool      // the unreachable message was written
}

const unreachableAfter = 5 * time.Minute

func (w *watchedCentral) FetchJobs(ctx context.Context, cursor string, wait time.Duration, max int, maxBytes int64) (jobqueue.JobsPage, error) {
	p, err := w.Central.FetchJobs(ctx, cursor, wait, max, maxBytes)
	if ctx.Err() == nil {
		w.seen(err)
	}
	return p, err
}

func (w *watchedCentral) seen(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	switch {
	case err == nil:
		if w.told {
			w.log.Info().Str(logging.MessageID, logging.MsgCentreReachable).Dur("unreachable_for", now.Sub(w.failSince).Round(time.Second)).
				Msg("central server answers again")
		}
		w.failSince, w.told = time.Time{}, false
	case w.failSince.IsZero():
		w.failSince = now
	case !w.told && now.Sub(w.failSince) >= unreachableAfter:
		w.told = true
		w.log.Error().Str(logging.MessageID, logging.MsgCentreUnreachable).Err(err).Dur("unreachable_for", now.Sub(w.failSince).Round(time.Second)).
			Msg("central server unreachable: printing goes on from the local queue; jobs do not arrive and outcomes wait in the outbox (printstationctl outbox)")
	}
}

// storeCosigned stores a checkpoint the centre cosigned; one that does not
// match this ledger is a failed ledger check, written with its MESSAGE_ID.
func (e *Engine) storeCosigned(ctx context.Context, cosigned string) error {
	err := e.ledger.StoreCosigned(ctx, []byte(cosigned))
	if errors.Is(err, inventory.ErrCosignature) {
		e.log.Error().Str(logging.MessageID, logging.MsgLedgerVerifyFailed).Err(err).
			Msg("ledger check failed: the centre's cosigned checkpoint does not match this station's ledger; keep the station's database as it is and call the provincial office (printstationctl audit verify on a copy shows more)")
	}
	return err
}
