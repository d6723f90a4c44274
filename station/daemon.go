// Package station is the engine that makes the parts a print station:
// batches, per-printer workers, the card state machine, crash recovery, the
// daemon's lifecycle and the local API. It is the only package that knows
// all the parts; each is reached through a small interface defined here.
package station

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/config"
	"printstation/inventory"
	"printstation/sdnotify"
	"printstation/station/localapi"
	"printstation/storage"
	"printstation/version"
)

// Options are what the thin main hands the daemon.
type Options struct {
	Config   *config.Config
	Log      zerolog.Logger
	Notifier *sdnotify.Notifier
	// Reload re-reads the config file; called on each value from HUP.
	Reload func() (*config.Config, error)
	HUP    <-chan os.Signal
	// Parts builds the printers, encoders and central link; nil builds the
	// real ones from the config.
	Parts PartsFactory
	// Ready, when set, is called once the daemon is up (demo uses it).
	Ready func(*Daemon)
	// Prepare, when set, runs after the engine is built and before it
	// starts printing (the demo records its stock there).
	Prepare func(context.Context, *Engine) error
}

// Daemon is a running station.
type Daemon struct {
	opts    Options
	log     zerolog.Logger
	db      *sql.DB
	started time.Time

	mu    sync.Mutex
	cfg   *config.Config
	state string // starting, running, stopping

	engine   *Engine
	accounts *accounts.Store
	mux      *http.ServeMux
}

// Run starts the station and blocks until ctx ends, then shuts down within
// the configured grace period. It returns nil on a clean stop.
func Run(ctx context.Context, opts Options) error {
	cfg := opts.Config
	if opts.Notifier == nil {
		opts.Notifier = sdnotify.New()
	}
	d := &Daemon{opts: opts, log: opts.Log, cfg: cfg, state: "starting", started: time.Now()}
	n := opts.Notifier
	n.Status("starting: opening storage")

	if err := os.MkdirAll(cfg.StorageDir, 0o750); err != nil {
		return fmt.Errorf("storage directory %s: %w (create it or fix storage_dir)", cfg.StorageDir, err)
	}
	lock, err := lockStorage(cfg.StorageDir)
	if err != nil {
		return err
	}
	defer lock.Close()

	db, err := storage.Open(ctx, filepath.Join(cfg.StorageDir, "station.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	d.db = db

	ln, err := listenUnix(SocketPath(cfg.RuntimeDir))
	if err != nil {
		return err
	}
	d.mux = http.NewServeMux()
	d.routes()

	n.Status("starting: connecting printers and readers")
	parts := opts.Parts
	if parts == nil {
		parts = RealParts
	}
	eng, err := NewEngine(ctx, EngineConfig{Config: cfg, DB: db, Log: d.log, Parts: parts, Status: func(s string) { n.Status(s) }})
	if err != nil {
		ln.Close()
		return err
	}
	d.engine = eng
	// Accounts log to the engine's ledger: people and blanks in one tree.
	acc, err := accounts.Open(ctx, db, accounts.Options{Ledger: eng.Ledger()})
	if err != nil {
		eng.Close()
		ln.Close()
		return err
	}
	d.accounts = acc
	eng.routes(d.mux, acc)
	if opts.Prepare != nil {
		if err := opts.Prepare(ctx, eng); err != nil {
			eng.Close()
			ln.Close()
			return err
		}
	}

	srv := &http.Server{Handler: authenticate(acc, journalRefusals(d.log, d.mux)), ReadHeaderTimeout: 10 * time.Second, ConnContext: peerContext}
	srvDone := make(chan struct{})
	go func() {
		defer close(srvDone)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error().Err(err).Msg("local API stopped")
		}
	}()

	engCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	engDone := make(chan error, 1)
	go func() {
		// Nothing prints or is pulled before the centre confirmed that
		// this database extends the ledger it witnessed (witness.go).
		if err := eng.AwaitWitness(engCtx); err != nil {
			engDone <- nil
			return
		}
		engDone <- eng.Run(engCtx)
	}()

	wd := sdnotify.NewWatchdog(n, sdnotify.WatchdogInterval())
	wdCtx, stopWD := context.WithCancel(context.Background())
	defer stopWD()
	go wd.Run(wdCtx)

	d.setState("running")
	n.Ready()
	d.log.Info().Str("station", cfg.StationID).Str("version", version.Version).
		Int("printers", len(cfg.Printers)).Str("socket", SocketPath(cfg.RuntimeDir)).Msg("station ready")
	if opts.Ready != nil {
		opts.Ready(d)
	}

	// The main loop: the watchdog sees progress only while this goes round,
	// and the engine's own loops report in through eng.Healthy.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	lastStatus := ""
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-opts.HUP:
			d.reload()
		case err := <-engDone:
			if err != nil {
				d.log.Error().Err(err).Msg("engine stopped")
				stopWD()
				n.Status("engine stopped: " + err.Error())
				shutdownServer(srv)
				return err
			}
			engDone = nil
		case <-tick.C:
			if eng.Healthy() {
				wd.Progress()
			}
			if s := eng.StatusLine(); s != lastStatus {
				n.Status(s)
				lastStatus = s
			}
		}
	}

	d.setState("stopping")
	n.Stopping()
	grace := time.Duration(d.config().Engine.ShutdownGraceSeconds) * time.Second
	n.Status(fmt.Sprintf("stopping: finishing the card in flight (at most %s)", grace))
	d.log.Info().Dur("grace", grace).Msg("stopping: no new cards; finishing the card in flight")
	eng.Drain()
	if engDone != nil {
		select {
		case <-engDone:
			engDone = nil
		case <-time.After(grace):
			d.log.Warn().Msg("grace period over: parking the card in flight; it will be checked at the next start")
		}
	}
	stopEngine()
	if engDone != nil {
		select {
		case <-engDone:
		case <-time.After(5 * time.Second):
		}
	}
	eng.Close()
	shutdownServer(srv)
	<-srvDone
	os.Remove(SocketPath(cfg.RuntimeDir))
	d.log.Info().Msg("station stopped")
	return nil
}

func shutdownServer(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
	srv.Close()
}

func (d *Daemon) setState(s string) {
	d.mu.Lock()
	d.state = s
	d.mu.Unlock()
}

func (d *Daemon) config() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// Engine is the daemon's engine (demo and tests reach it).
func (d *Daemon) Engine() *Engine { return d.engine }

// Accounts are the station's people (the web page signs in with them).
func (d *Daemon) Accounts() *accounts.Store { return d.accounts }

// DB is the station database.
func (d *Daemon) DB() *sql.DB { return d.db }

// reload applies the safe fields of a re-read config and logs what changed
// and what needs a restart.
func (d *Daemon) reload() {
	n := d.opts.Notifier
	n.Reloading()
	defer n.Ready()
	if d.opts.Reload == nil {
		return
	}
	nu, err := d.opts.Reload()
	if err != nil {
		d.log.Error().Err(err).Msg("reload refused: the running configuration stays")
		return
	}
	ch := config.Diff(d.config(), nu)
	d.mu.Lock()
	d.cfg = ch.NewConfig
	d.mu.Unlock()
	if lvl, err := zerolog.ParseLevel(ch.NewConfig.Log.Level); err == nil {
		d.log = d.log.Level(lvl)
		d.opts.Log = d.log
	}
	d.engine.Reconfigure(ch.NewConfig)
	// A reload comes from root on the host (systemctl reload sends HUP).
	if err := d.accounts.Log(context.Background(), inventory.Event{Kind: inventory.ConfigReloaded, Actor: accounts.Root.Name, Via: inventory.ViaHost,
		Reason: reloadSummary(ch.Applied, ch.NeedRestart)}); err != nil {
		d.log.Error().Err(err).Msg("the configuration reload could not be recorded in the people log")
	}
	d.log.Info().Strs("applied", ch.Applied).Strs("need_restart", ch.NeedRestart).Msg("configuration reloaded")
}

// StatusReport is what `printstationctl status` shows.
type StatusReport = localapi.StatusReport

func (d *Daemon) routes() {
	d.mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"version": version.Version, "station": d.config().StationID})
	})
	d.mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.View); !ok {
			return
		}
		d.mu.Lock()
		st := StatusReport{Station: d.cfg.StationID, Version: version.Version, State: d.state, PID: os.Getpid(),
			Uptime: time.Since(d.started).Round(time.Second).String()}
		d.mu.Unlock()
		if d.engine != nil {
			d.engine.fillStatus(r.Context(), &st)
		}
		writeJSON(w, 200, st)
	})
}

// reloadSummary says in the log what a reload changed, in at most 256
// bytes (the ledger's field limit).
func reloadSummary(applied, restart []string) string {
	s := "applied: " + strings.Join(applied, ", ")
	if len(restart) > 0 {
		s += "; need a restart: " + strings.Join(restart, ", ")
	}
	if len(s) > 250 {
		s = s[:250] + "..."
	}
	return s
}
