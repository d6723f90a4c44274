package station

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"printstation/chip"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/station/localapi"
	"printstation/version"
)

// Metrics for watching a fleet of stations from one Prometheus. The rules:
// base units (seconds), counters end in _total, labels only with small
// closed sets of values (printer names from the config, spoil reason
// codes, states), and nothing personal: no job ids, no names, no UIDs.
// Counts come from the ledger at scrape time, so they survive restarts and
// always agree with what an auditor reads.

// PrinterStates are the states a printer's worker reports; each printer
// has one printstation_printer_state series per state, 1 for the current.
var PrinterStates = []string{"idle", "printing", "paused", "attention", "offline", "stopped"}

// jobGaugeStates are the job states that are not yet over.
var jobGaugeStates = []jobqueue.State{jobqueue.Received, jobqueue.Queued, jobqueue.Printing, jobqueue.Uncertain, jobqueue.Attention}

// timing holds the histograms the engine observes while it works.
type timing struct {
	chip *prometheus.HistogramVec
	card *prometheus.HistogramVec
}

func newTiming() *timing {
	return &timing{
		chip: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "printstation_chip_personalize_duration_seconds",
			Help:    "Time to write and read back one card's chip, from the encoder call to its answer.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30},
		}, []string{"outcome"}),
		card: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "printstation_card_duration_seconds",
			Help:    "Time one card spends in the printer, from feeding the blank to ejecting (ok) or rejecting (rejected) it.",
			Buckets: []float64{5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300},
		}, []string{"outcome"}),
	}
}

// timed wraps a printer and its encoder so that the chip and card times are
// measured. The desk flow (a print queue and a desk reader) looks for other
// methods on them and keeps its parts as they are: it has no feed-to-eject
// card to time.
func (e *Engine) timed(p Printer, enc Encoder, desk bool) (Printer, Encoder) {
	if desk {
		return p, enc
	}
	if enc != nil {
		enc = &timedEncoder{Encoder: enc, t: e.timing}
	}
	return &timedPrinter{Printer: p, t: e.timing}, enc
}

// timedEncoder measures Personalize and keeps the last one for the
// technician's page (EncoderUse: the card's ATR, the APDUs and the time,
// never the chip's UID). It keeps the optional methods the engine looks
// for on an encoder.
type timedEncoder struct {
	Encoder
	t    *timing
	mu   sync.Mutex
	last *EncoderUse
}

// EncoderUse is the encoder's last chip write (localapi).
type EncoderUse = localapi.EncoderUse

func (te *timedEncoder) Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	start := time.Now()
	r, err := te.Encoder.Personalize(ctx, p)
	took := time.Since(start)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	te.t.chip.WithLabelValues(outcome).Observe(took.Seconds())
	u := &EncoderUse{At: start.UTC(), Millis: float64(took.Microseconds()) / 1000, APDUs: r.APDUs, ATR: fmt.Sprintf("%X", r.ATR), OK: err == nil}
	if err != nil {
		u.Error = err.Error()
	}
	te.mu.Lock()
	te.last = u
	te.mu.Unlock()
	return r, err
}

// lastUse is the last chip write, nil before the first.
func (te *timedEncoder) lastUse() *EncoderUse {
	te.mu.Lock()
	defer te.mu.Unlock()
	if te.last == nil {
		return nil
	}
	u := *te.last
	return &u
}

func (te *timedEncoder) Ready(ctx context.Context) error {
	if r, ok := te.Encoder.(interface{ Ready(context.Context) error }); ok {
		return r.Ready(ctx)
	}
	return nil
}

func (te *timedEncoder) Close() error {
	if c, ok := te.Encoder.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}

// timedPrinter measures a card from Feed to Eject or Reject. One worker
// drives one printer, so one card is in it at a time.
type timedPrinter struct {
	Printer
	t  *timing
	mu sync.Mutex
	at time.Time // when the card in the printer was fed; zero: none
}

func (tp *timedPrinter) CardCounters(ctx context.Context) (printer.Counters, error) {
	return cardCounters(ctx, tp.Printer)
}

func (tp *timedPrinter) Feed(ctx context.Context) error {
	err := tp.Printer.Feed(ctx)
	tp.mu.Lock()
	tp.at = time.Now()
	tp.mu.Unlock()
	return err
}

func (tp *timedPrinter) done(outcome string) {
	tp.mu.Lock()
	at := tp.at
	tp.at = time.Time{}
	tp.mu.Unlock()
	if !at.IsZero() {
		tp.t.card.WithLabelValues(outcome).Observe(time.Since(at).Seconds())
	}
}

func (tp *timedPrinter) Eject(ctx context.Context) error {
	err := tp.Printer.Eject(ctx)
	if err == nil {
		tp.done("ok")
	}
	return err
}

func (tp *timedPrinter) Reject(ctx context.Context) error {
	err := tp.Printer.Reject(ctx)
	if err == nil {
		tp.done("rejected")
	}
	return err
}

var _ Printer = (*timedPrinter)(nil)

// MetricsHandler serves the station's metrics in the Prometheus text
// format. A series whose source cannot be read is left out of that scrape
// and the error is logged; the rest is served.
func (e *Engine) MetricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&collector{e: e, started: time.Now()})
	reg.MustRegister(e.timing.chip, e.timing.card)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, ErrorLog: promLog{e}, Timeout: 10 * time.Second, MaxRequestsInFlight: 2})
}

type promLog struct{ e *Engine }

func (p promLog) Println(v ...any) { p.e.log.Warn().Msgf("metrics: %v", v) }

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, labels, nil)
}

var (
	descPrinted   = desc("printstation_cards_printed_total", "Cards printed and ejected (blanks the ledger counts as consumed), by printer.", "printer")
	descSpoiled   = desc("printstation_cards_spoiled_total", "Blanks spoiled, by printer and reason code (chip_write, chip_verify, print, jam, misfeed, operator, crash_unconfirmed, damaged, test).", "printer", "reason")
	descBlanks    = desc("printstation_blanks", "Blank cards the ledger has in each location: storage, or printer:NAME (the feeder).", "location")
	descAwaiting  = desc("printstation_blanks_spoiled_awaiting_destruction", "Spoiled blanks kept for witnessed destruction.")
	descLow       = desc("printstation_stock_low", "1 when the usable blanks are below engine.low_stock.")
	descLeft      = desc("printstation_stock_remaining_seconds", "Estimated time until the usable blanks run out at the last 7 days' rate; absent when nothing was used.")
	descPrinter   = desc("printstation_printer_state", "1 for the printer's current state, 0 for the others.", "printer", "state")
	descJobs      = desc("printstation_jobs", "Jobs not yet over, by state (queued: waiting for a printer; attention, uncertain: waiting for a person).", "state")
	descPull      = desc("printstation_central_last_pull_timestamp_seconds", "When jobs were last pulled from the centre successfully (before the first pull: when the daemon started).")
	descPullFail  = desc("printstation_central_pull_failures", "Consecutive failed pulls from the centre; 0 when the last one worked.")
	descAck       = desc("printstation_central_last_outcome_ack_timestamp_seconds", "When the centre last acknowledged a job outcome; absent if it never did.")
	descOutbox    = desc("printstation_outbox_pending_items", "Reports (outcomes, checkpoints, stock) not yet acknowledged by the centre.")
	descLag       = desc("printstation_ledger_uncosigned_events", "Ledger events the centre has not yet cosigned (checkpoint lag).")
	descEvents    = desc("printstation_ledger_events_total", "Events in the station's ledger.")
	descBuildInfo = desc("printstation_build_info", "Always 1; the label says the daemon's version.", "version")
)

// collector reads the ledger, the queue and the workers at scrape time.
type collector struct {
	e       *Engine
	started time.Time

	mu    sync.Mutex // serializes scrapes: the running sums below
	next  int64
	print map[string]int64
	spoil map[string]map[string]int64
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPrinted, descSpoiled, descBlanks, descAwaiting, descLow, descLeft, descPrinter,
		descJobs, descPull, descPullFail, descAck, descOutbox, descLag, descEvents, descBuildInfo} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e := c.e
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	gauge(descBuildInfo, 1, version.Version)

	c.mu.Lock()
	t, err := e.ledger.TallySince(ctx, c.next)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPrinted, err)
	} else {
		if c.print == nil {
			c.print, c.spoil = map[string]int64{}, map[string]map[string]int64{}
		}
		for p, n := range t.Consumed {
			c.print[p] += n
		}
		for p, rs := range t.Spoiled {
			if c.spoil[p] == nil {
				c.spoil[p] = map[string]int64{}
			}
			for r, n := range rs {
				c.spoil[p][r] += n
			}
		}
		c.next = t.Next
	}
	// Every configured printer has its series from the start, at 0, so
	// rate() and increase() see the first card.
	for _, w := range e.workers {
		counter(descPrinted, float64(c.print[w.name]), w.name)
		for _, r := range inventory.SpoilReasons {
			counter(descSpoiled, float64(c.spoil[w.name][r]), w.name, r)
		}
	}
	for p, n := range c.print {
		if e.byName[p] == nil { // a printer no longer configured
			counter(descPrinted, float64(n), p)
		}
	}
	for p, rs := range c.spoil {
		for r, n := range rs {
			if e.byName[p] == nil || !slices.Contains(inventory.SpoilReasons, r) {
				counter(descSpoiled, float64(n), p, r)
			}
		}
	}
	c.mu.Unlock()

	if s, err := e.ledger.Stock(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descBlanks, err)
	} else {
		gauge(descBlanks, float64(s.Storage), inventory.Storage)
		for _, w := range e.workers {
			gauge(descBlanks, float64(s.Printers[w.name]), inventory.InPrinter(w.name))
		}
		gauge(descAwaiting, float64(s.SpoiledAwaiting))
		gauge(descLow, b2f(s.Low))
		counter(descEvents, float64(s.Events))
	}
	if f, err := e.ledger.Forecast(ctx, 7); err != nil {
		ch <- prometheus.NewInvalidMetric(descLeft, err)
	} else if f.DaysLeft >= 0 {
		gauge(descLeft, f.DaysLeft*24*3600)
	}
	if n, err := e.ledger.Uncosigned(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descLag, err)
	} else {
		gauge(descLag, float64(n))
	}

	for _, w := range e.workers {
		cur := w.snapshot().State
		for _, st := range PrinterStates {
			gauge(descPrinter, b2f(st == cur), w.name, st)
		}
		if !slices.Contains(PrinterStates, cur) {
			gauge(descPrinter, 1, w.name, cur)
		}
	}

	if bs, err := e.queue.Batches(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descJobs, err)
	} else {
		n := map[jobqueue.State]int{}
		for _, b := range bs {
			for st, k := range b.ByState {
				n[st] += k
			}
		}
		for _, st := range jobGaugeStates {
			gauge(descJobs, float64(n[st]), string(st))
		}
	}

	if e.syncer != nil {
		s := e.syncer.Status()
		last := s.LastPull
		if last.IsZero() {
			last = c.started
		}
		gauge(descPull, float64(last.UnixNano())/1e9)
		gauge(descPullFail, float64(s.PullFailures))
	}
	if at, err := e.outbox.LastAcked(ctx, jobqueue.KindOutcome); err != nil {
		ch <- prometheus.NewInvalidMetric(descAck, err)
	} else if !at.IsZero() {
		gauge(descAck, float64(at.UnixNano())/1e9)
	}
	if st, err := e.outbox.Stats(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(descOutbox, err)
	} else {
		gauge(descOutbox, float64(st.Pending))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ServeMetrics serves /metrics on addr until ctx ends. It is its own
// listener so that a monitoring server may reach it while the print-room
// page stays on loopback. The address it listens on (port 0 picks one) is
// logged.
func (e *Engine) ServeMetrics(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("metrics on %s: %w (is another program using that port? change [metrics] listen)", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", e.MetricsHandler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "printstationd: Prometheus metrics at /metrics")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	e.log.Info().Str("url", "http://"+ln.Addr().String()+"/metrics").Msg("Prometheus metrics")
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("metrics on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-done
	return nil
}
