package station

import (
	"context"
	"fmt"
	"time"

	"printstation/jobqueue"
)

// startSync ties the queue to the central server: jobs in, outcomes,
// checkpoints and stock reports out.
func (e *Engine) startSync() error {
	c := e.cfg.Central
	cl, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: c.URL, CertFile: c.ClientCert, KeyFile: c.ClientKey, CAFile: c.CAFile, StationID: e.cfg.StationID, MaxBody: int64(c.MaxAnswerMB) << 20})
	if err != nil {
		return fmt.Errorf("central server: %w", err)
	}
	e.central = cl
	e.wit.poke = make(chan struct{}, 1)
	opts := jobqueue.SyncOptions{
		PrefetchJobs:  e.cfg.Queue.PrefetchJobs,
		PrefetchBytes: int64(e.cfg.Queue.PrefetchMB) << 20,
		Wait:          time.Duration(c.PollSeconds) * time.Second,
		OnCheckpoint: func(ctx context.Context, key, cosigned string) error {
			return e.storeCosigned(ctx, cosigned)
		},
		Witness: e.ledger,
		Logger:  e.log,
	}
	if e.ec.Sync != nil {
		e.ec.Sync(&opts)
	}
	e.syncer = jobqueue.NewSyncer(e.queue, &watchedCentral{Central: cl, log: e.log}, opts)
	return nil
}

// centralState says in words how the link to the centre is.
func (e *Engine) centralState() string {
	if e.syncer == nil {
		return "not configured"
	}
	s := e.syncer.Status()
	switch {
	case s.PullFailures > 0:
		return fmt.Sprintf("unreachable (%d failed tries, last: %s); printing goes on from the local queue", s.PullFailures, s.LastError)
	case s.LastPull.IsZero():
		return "connecting"
	default:
		return "connected, last pull " + time.Since(s.LastPull).Round(time.Second).String() + " ago"
	}
}

// dailyStockReport queues yesterday's stock report for the centre once; the
// outbox's idempotency key makes a repeat harmless.
func (e *Engine) dailyStockReport(ctx context.Context) {
	day := time.Now().AddDate(0, 0, -1)
	key := fmt.Sprintf("stock/%s/%s", e.cfg.StationID, day.Format("2006-01-02"))
	if e.lastStock == key {
		return
	}
	body, err := e.ledger.StockReport(ctx, day)
	if err != nil {
		e.log.Warn().Err(err).Msg("daily stock report failed; will retry")
		return
	}
	if err := e.outbox.Enqueue(ctx, e.db, "stock", key, body); err != nil {
		e.log.Warn().Err(err).Msg("queueing the daily stock report failed; will retry")
		return
	}
	e.lastStock = key
}
