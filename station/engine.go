package station

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"

	"printstation/card"
	"printstation/chip"
	"printstation/config"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer/raster"
	"printstation/storage"
)

// EngineConfig is what NewEngine needs.
type EngineConfig struct {
	Config *config.Config
	DB     *sql.DB
	Log    zerolog.Logger
	Parts  PartsFactory
	Status func(string)
	// Actor names who the engine's own ledger events are by.
	Actor string
	// Sync, when set, adjusts the syncer's options (benchmarks shorten its
	// idle poll).
	Sync func(*jobqueue.SyncOptions)
}

// Engine runs batches on the station's printers.
type Engine struct {
	ec     EngineConfig
	log    zerolog.Logger
	db     *sql.DB
	queue  *jobqueue.Queue
	ledger *inventory.Ledger
	outbox *jobqueue.Outbox
	syncer *jobqueue.Syncer
	// central and wit: the start-up witness check (witness.go).
	central *jobqueue.Client
	wit     witnessGate
	parts   *Parts
	hub     hub
	// buffers: the memory cards are drawn in, reused (prepare, worker.card).
	buffers bufferPool
	timing  *timing // histograms for /metrics

	journaled journalState // printer stops already written to the journal

	cfgMu sync.Mutex
	cfg   *config.Config

	workers   []*worker
	byName    map[string]*worker
	held      sync.Map // job id → printer: jobs a worker has in hand
	draining  atomic.Bool
	wake      chan struct{}
	beat      atomic.Int64           // unix nanos of the last engine loop pass
	lastStock string                 // key of the last daily stock report queued
	deskCrash func(step string) bool // tests: a crash point in the desk flow (desk.go)
}

// engineSchema is the engine's own state: which batches people started,
// and the intent record written before every feed (the crash rule).
const engineSchema = `
CREATE TABLE IF NOT EXISTS station_batches (
	batch_id   TEXT PRIMARY KEY,
	state      TEXT NOT NULL CHECK (state IN ('started','paused','cancelled')),
	actor      TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS station_intents (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	job_id         TEXT NOT NULL,
	printer        TEXT NOT NULL,
	attempt        INTEGER NOT NULL,
	counter_before INTEGER NOT NULL,
	created_at     TEXT NOT NULL,
	resolved_at    TEXT,
	resolution     TEXT,
	uid            TEXT,
	note           TEXT,
	spoil_reason   TEXT
);
CREATE INDEX IF NOT EXISTS station_intents_open ON station_intents(resolved_at) WHERE resolved_at IS NULL;
CREATE INDEX IF NOT EXISTS station_intents_job ON station_intents(job_id);
`

// NewEngine opens the queue and ledger in db, builds the parts and runs
// crash recovery. It does not start printing: Run does.
func NewEngine(ctx context.Context, ec EngineConfig) (*Engine, error) {
	cfg := ec.Config
	if ec.Actor == "" {
		ec.Actor = "printstationd"
	}
	if ec.Status == nil {
		ec.Status = func(string) {}
	}
	e := &Engine{ec: ec, log: ec.Log, db: ec.DB, cfg: cfg, byName: map[string]*worker{}, wake: make(chan struct{}, 1), timing: newTiming()}
	if _, err := ec.DB.ExecContext(ctx, engineSchema+deskSchema+cleaningSchema); err != nil {
		return nil, fmt.Errorf("engine tables: %w", err)
	}
	if err := addColumns(ctx, ec.DB, "station_intents", "note TEXT", "spoil_reason TEXT"); err != nil {
		return nil, fmt.Errorf("engine tables: %w", err)
	}

	dataKey, err := loadOrCreateKey(cfg.Keys.DataKey, cfg.StorageDir, "data.key", "printstation-data-key", jobqueue.LoadDataKey, jobqueue.CreateDataKey)
	if err != nil {
		return nil, err
	}
	issuers := map[string]ed25519.PublicKey{}
	for _, k := range cfg.Central.IssuerKeys {
		pub, err := config.ReadIssuerKey(k.File)
		if err != nil {
			return nil, fmt.Errorf("issuer key %s: %w", k.ID, err)
		}
		issuers[k.ID] = pub
	}
	e.queue, err = jobqueue.Open(ctx, ec.DB, jobqueue.Options{StationID: cfg.StationID, IssuerKeys: issuers, DataKey: dataKey, Logger: ec.Log, Retention: time.Duration(cfg.Queue.RetentionHours) * time.Hour})
	if err != nil {
		return nil, err
	}
	e.outbox = e.queue.Outbox()

	signer, err := e.signer()
	if err != nil {
		return nil, err
	}
	var witness note.Verifier
	if cfg.Central.WitnessKey != "" {
		if witness, err = note.NewVerifier(cfg.Central.WitnessKey); err != nil {
			return nil, fmt.Errorf("central.witness_key: %w (expected the centre's note verifier key)", err)
		}
	}
	e.ledger, err = inventory.Open(ctx, ec.DB, inventory.Options{StationID: cfg.StationID, Signer: signer, CheckpointEvery: cfg.Engine.CheckpointEvery, Outbox: e.outbox, LowStock: int64(cfg.Engine.LowStock), MaxStock: int64(cfg.Engine.MaxStock), CentreVerifier: witness})
	if err != nil {
		return nil, err
	}

	parts, err := ec.Parts(ctx, cfg, ec.Log)
	if err != nil {
		return nil, err
	}
	e.parts = parts
	for _, pc := range cfg.Printers {
		p := parts.Printers[pc.Name]
		if p == nil {
			parts.Close()
			return nil, fmt.Errorf("printer %s: no device was built for it", pc.Name)
		}
		p, enc := e.timed(p, parts.Encoders[pc.Name], pc.Encoder == "desk")
		w := newWorker(e, pc.Name, p, enc)
		if pc.Encoder == "desk" {
			w.desk = &deskState{}
		}
		e.workers = append(e.workers, w)
		e.byName[pc.Name] = w
	}
	if err := e.recover(ctx); err != nil {
		parts.Close()
		return nil, err
	}
	e.recordCounters(ctx)
	if cfg.Central.URL != "" {
		if err := e.startSync(); err != nil {
			parts.Close()
			return nil, err
		}
	}
	e.beat.Store(time.Now().UnixNano())
	return e, nil
}

// recordCounters puts each printer's hardware card counter in the ledger,
// so an auditor can compare the blanks fed between two readings with the
// blanks the ledger says were used. An offline printer is skipped.
func (e *Engine) recordCounters(ctx context.Context) {
	for _, w := range e.workers {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		ctr, err := w.p.Counters(cctx)
		cancel()
		if err != nil {
			continue
		}
		if _, err := e.ledger.Record(ctx, inventory.Event{Kind: inventory.CounterReading, Actor: e.ec.Actor, Printer: w.name, CardsInserted: ctr.CardsInserted}); err != nil {
			e.log.Warn().Err(err).Str("printer", w.name).Msg("recording the printer's card counter failed")
		}
	}
}

// signer loads the station's ledger signing key: a systemd credential, the
// configured file, or one created in the storage directory.
func (e *Engine) signer() (note.Signer, error) {
	cfg := e.cfg
	p := cfg.Keys.SigningKey
	if p == "" {
		p = credentialOr(filepath.Join(cfg.StorageDir, "ledger.skey"), "printstation-ledger-key")
	}
	s, _, err := inventory.LoadOrCreateSigner(p, "printstation/"+cfg.StationID)
	if err != nil {
		return nil, fmt.Errorf("ledger signing key: %w", err)
	}
	return s, nil
}

// Queue is the job queue (the demo and tests add jobs through it).
func (e *Engine) Queue() *jobqueue.Queue { return e.queue }

// Ledger is the blank-card ledger.
func (e *Engine) Ledger() *inventory.Ledger { return e.ledger }

// Events subscribes to the engine's events.
func (e *Engine) Events() (chan Event, func()) { return e.hub.subscribe() }

func (e *Engine) config() *config.Config {
	e.cfgMu.Lock()
	defer e.cfgMu.Unlock()
	return e.cfg
}

// Reconfigure takes over the fields a reload may change.
func (e *Engine) Reconfigure(c *config.Config) {
	e.cfgMu.Lock()
	e.cfg = c
	e.cfgMu.Unlock()
}

func (e *Engine) publish(ev Event) {
	e.journal(ev)
	e.hub.publish(ev)
}

// kick wakes idle workers (a batch started, a printer resumed, jobs came).
func (e *Engine) kick() {
	for _, w := range e.workers {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// Run drives the workers until ctx ends or Drain is called and every
// worker has finished its card in flight.
func (e *Engine) Run(ctx context.Context) error {
	e.draining.Store(false)
	var wg sync.WaitGroup
	// Everything Run starts ends before it returns, also when a drain ends
	// it: the syncer gets its own context, cancelled on the way out.
	ctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		wg.Wait()
	}()
	for _, w := range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx)
		}()
	}
	if e.syncer != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.syncer.Run(ctx)
		}()
	}
	// The loop lives as long as the daemon, whether or not workers run:
	// its beat is what the systemd watchdog sees.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastHousekeeping time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.beat.Store(time.Now().UnixNano())
			if e.draining.Load() && e.allParked() {
				// Workers are parked; the deferred stop ends the syncer.
				return nil
			}
			if time.Since(lastHousekeeping) >= time.Minute {
				e.purge(ctx)
				e.dailyStockReport(ctx)
				e.checkpointByTime(ctx)
				lastHousekeeping = time.Now()
			}
		}
	}
}

// Drain stops new cards; the card in flight on each printer is finished.
func (e *Engine) Drain() {
	e.draining.Store(true)
	e.kick()
}

func (e *Engine) allParked() bool {
	for _, w := range e.workers {
		if w.busy.Load() {
			return false
		}
	}
	return true
}

// Healthy reports whether the engine's loop went round recently. The
// workers may wait on a printer for minutes; the loop never does.
func (e *Engine) Healthy() bool {
	return time.Since(time.Unix(0, e.beat.Load())) < 30*time.Second
}

// Close signs a checkpoint over the ledger as it stands (so an auditor sees
// the state at shutdown signed) and releases the devices.
func (e *Engine) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.ledger.Checkpoint(ctx, e.db); err != nil {
		e.log.Warn().Err(err).Msg("checkpoint at shutdown failed; the next start signs one")
	}
	e.witnessAtShutdown(ctx)
	if e.parts != nil && e.parts.Close != nil {
		e.parts.Close()
	}
}

func (e *Engine) purge(ctx context.Context) {
	if _, err := e.queue.Purge(ctx); err != nil {
		e.log.Warn().Err(err).Msg("purging finished jobs' personal data failed; will retry")
	}
}

// StatusLine is the one line systemd shows in `systemctl status`.
func (e *Engine) StatusLine() string {
	if s := e.witnessLine(); s != "" {
		return s
	}
	var parts []string
	for _, w := range e.workers {
		s := w.snapshot()
		item := s.Name + " " + s.State
		if s.Job != "" {
			item += " " + s.Job
		}
		parts = append(parts, item)
	}
	if e.draining.Load() {
		return "stopping: " + strings.Join(parts, "; ")
	}
	if len(parts) == 0 {
		return "running: no printers configured"
	}
	return "running: " + strings.Join(parts, "; ")
}

// prepared is a job made ready for a printer: its panels rendered and its
// chip data decoded, done while the previous card is still in the printer.
type prepared struct {
	meta   jobqueue.JobMeta
	front  *raster.Panels
	color  *image.RGBA // the rendered face, for printers that take images (desk flow)
	black  *image.Gray
	name   string // the citizen's name, shown to signed-in staff at a desk printer; never logged
	perso  chip.Personalization
	hasChp bool
	// buf holds front, color and black: it goes back to the engine's
	// buffers when the worker is done with the card (worker.card), and
	// nowhere else — a buffer reused while its card is still printing
	// would put another person's face on it. A prepared that is dropped
	// any other way (given back unprinted, put aside for a person) just
	// leaves its buffer to the garbage collector.
	buf *cardBuffers
}

// cardBuffers are the memory one card is drawn and converted in: ≈ 3.3 MB
// of pixels and ≈ 1.4 MB of panels, reused card after card (card.Canvas,
// raster.Reuse) instead of allocated, copied whole and collected for each.
type cardBuffers struct {
	canvas card.Canvas
	panels raster.Reuse
}

// bufferPool keeps the buffers of finished cards for the next ones. Not a
// sync.Pool: that empties at every collection, and a printing daemon
// collects every few cards.
type bufferPool struct {
	mu   sync.Mutex
	free []*cardBuffers
}

// maxFreeBuffers bounds what is kept: each printer has at most two cards
// in hand (the one printing and the next, prepared).
const maxFreeBuffers = 8

func (bp *bufferPool) get() *cardBuffers {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if n := len(bp.free); n > 0 {
		b := bp.free[n-1]
		bp.free = bp.free[:n-1]
		return b
	}
	return &cardBuffers{}
}

func (bp *bufferPool) put(b *cardBuffers) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if len(bp.free) < maxFreeBuffers {
		bp.free = append(bp.free, b)
	}
}

// release gives p's buffers back: p's images and panels must not be used
// after it.
func (p *prepared) release(bp *bufferPool) {
	if p.buf == nil {
		return
	}
	b := p.buf
	p.buf, p.front, p.color, p.black = nil, nil, nil, nil
	bp.put(b)
}

// rasterOptions are the panels and levels for a printer: its configured
// ribbon chooses the panels (raster.RibbonPanels); the driver refuses to
// feed when the printer reports another ribbon.
func (e *Engine) rasterOptions(printerName string) raster.Options {
	for _, pc := range e.config().Printers {
		if pc.Name == printerName {
			return raster.Options{Ribbon: pc.Ribbon}
		}
	}
	return raster.Options{}
}

// prepare renders and rasterizes a job for a printer. Errors here are the
// job's fault (a bad photo, a template that does not fit), never the
// printer's.
func (e *Engine) prepare(ctx context.Context, meta jobqueue.JobMeta, printerName string) (*prepared, error) {
	job, err := e.queue.Load(ctx, meta.ID)
	if err != nil {
		return nil, err
	}
	tpl, err := e.queue.Template(ctx, job.Template.ID, job.Template.SHA256)
	if err != nil {
		return nil, err
	}
	buf := e.buffers.get()
	color, black, err := buf.canvas.Render(tpl, job.Fields, job.Photo, job.Signature)
	if err != nil {
		e.buffers.put(buf)
		return nil, fmt.Errorf("render: %w", err)
	}
	var k image.Image // a nil *image.Gray must not become a non-nil interface
	if black != nil {
		k = black
	}
	// Only the tiles where this card differs from its template's static
	// layers are converted (and only where the canvas drew are they looked
	// for); the rest is the static layers' conversion, kept.
	base, baseK := card.StaticLayers(tpl)
	panels, err := raster.ConvertOverInto(&buf.panels, color, k, base, baseK, buf.canvas.Drawn(), e.rasterOptions(printerName))
	if err != nil {
		e.buffers.put(buf)
		return nil, fmt.Errorf("raster: %w", err)
	}
	p := &prepared{meta: meta, front: panels, color: color, black: black, name: job.Fields["nama"], buf: buf}
	if p.name == "" {
		p.name = job.Fields["name"]
	}
	if len(job.Chip.Files) > 0 {
		p.hasChp = true
		aid, err := job.Chip.AIDBytes()
		if err != nil {
			p.release(&e.buffers)
			return nil, fmt.Errorf("chip aid: %w", err)
		}
		p.perso = chip.Personalization{AID: aid, Lock: job.Chip.Lock}
		for _, f := range job.Chip.Files {
			fid, err := f.FIDValue()
			if err != nil {
				p.release(&e.buffers)
				return nil, err
			}
			p.perso.Files = append(p.perso.Files, chip.File{FID: fid, Data: f.Data})
		}
	}
	return p, nil
}

// claim takes the next printable job for a printer: queued jobs of started
// batches, batches in the order people started them, jobs in recording-date
// order. Two workers racing for one job are kept apart by the queue's state
// check inside the transaction.
func (e *Engine) claim(ctx context.Context, printerName string) (*jobqueue.JobMeta, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT batch_id FROM station_batches WHERE state = 'started' ORDER BY updated_at, batch_id`)
	if err != nil {
		return nil, err
	}
	var batches []string
	for rows.Next() {
		var b string
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, err
		}
		batches = append(batches, b)
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	rows.Close()
	for _, b := range batches {
		j, err := e.claimIn(ctx, b, printerName)
		if j != nil || err != nil {
			return j, err
		}
	}
	return nil, nil
}

// claimIn claims the first queued job of batch b that no printer holds. It
// reads the batch's first few queued jobs, more only when those are all
// held, instead of every job of the batch for every card.
func (e *Engine) claimIn(ctx context.Context, b, printerName string) (*jobqueue.JobMeta, error) {
	for limit := 8; ; limit *= 4 {
		jobs, err := e.queue.Queued(ctx, b, limit)
		if err != nil {
			return nil, err
		}
		for _, j := range jobs {
			// Held before it is marked printing, so the attention list
			// never sees it in between as a job nobody has.
			if _, taken := e.held.LoadOrStore(j.ID, printerName); taken {
				continue
			}
			err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
				return e.queue.SetState(ctx, tx, j.ID, jobqueue.Printing, "on "+printerName)
			})
			if err != nil {
				e.unhold(j.ID, printerName)
			}
			if errors.Is(err, jobqueue.ErrIllegalTransition) {
				continue // another printer took it
			}
			if err != nil {
				return nil, err
			}
			j.State = jobqueue.Printing
			return &j, nil
		}
		if len(jobs) < limit {
			return nil, nil // the batch has no other queued job
		}
	}
}

// attempts counts the blanks already spoiled for a job (on any printer).
func (e *Engine) attempts(ctx context.Context, jobID string) (int, error) {
	var n int
	err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM station_intents WHERE job_id = ? AND resolution IN `+outcomesWhere(func(r outcomeRule) bool { return r.attempt }), jobID).Scan(&n)
	return n, err
}

func uidText(uid []byte) string {
	if len(uid) == 0 {
		return inventory.UIDUnknown
	}
	return strings.ToUpper(hex.EncodeToString(uid))
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// addColumns adds columns a newer version of the engine keeps to a table an
// older one created.
func addColumns(ctx context.Context, db *sql.DB, table string, cols ...string) error {
	have := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		have[n] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range cols {
		name, _, _ := strings.Cut(c, " ")
		if have[name] {
			continue
		}
		if _, err := db.ExecContext(ctx, `ALTER TABLE `+table+` ADD COLUMN `+c); err != nil {
			return fmt.Errorf("add %s.%s: %w", table, name, err)
		}
	}
	return nil
}
