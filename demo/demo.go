// Package demo runs the whole station on its embedded defaults: simulated
// printers speaking the Evolis protocol over loopback TCP, a chip in each
// printer's encoder (the software card, or a virtual card on the real pcscd
// when it runs), the reference central server in the same process, and a
// batch of synthetic jobs started at once. What it prints is real: the
// station code is the daemon's, only the devices are simulated.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/chip/chiptest"
	"printstation/config"
	"printstation/inventory"
	"printstation/logging"
	"printstation/printer"
	_ "printstation/printer/all" // the Evolis driver and transports the demo opens
	simprinter "printstation/sim/printer"
	"printstation/station"
	"printstation/storage"
	"printstation/web"
)

// Options are the demo's flags.
type Options struct {
	Jobs         int
	Printers     int
	Speed        float64
	Out          string
	ExitWhenDone bool
	JSON         bool
	Chip         string // auto, soft, vicc
	Faults       string // printer faults for p1, e.g. "jam@print#3"
	Web          string // the print-room page's loopback address; "" for none
	Log          io.Writer
}

// Summary is the closing report (--json).
type Summary struct {
	Station        string            `json:"station"`
	Jobs           int               `json:"jobs"`
	Printed        int               `json:"printed"`
	WaitingPerson  int               `json:"waiting_for_a_person"`
	BlanksConsumed int64             `json:"blanks_consumed"`
	BlanksSpoiled  int64             `json:"blanks_spoiled"`
	SpoiledBy      map[string]int64  `json:"spoiled_by_reason"`
	Chip           string            `json:"chip"`
	Elapsed        string            `json:"elapsed"`
	CardsPerHour   float64           `json:"cards_per_hour"`
	Reconciliation any               `json:"reconciliation"`
	LedgerVerified bool              `json:"ledger_verified"`
	Files          map[string]string `json:"files"`
}

// Main runs printstation-demo.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.IntVar(&o.Jobs, "jobs", 24, "synthetic jobs the central server issues")
	fs.IntVar(&o.Printers, "printers", 2, "simulated printers")
	fs.Float64Var(&o.Speed, "speed", 20, "printer speed factor (1 = a real printer's pace)")
	fs.StringVar(&o.Out, "out", "demo-out", "folder for the printed cards, station.db and the simulators' journals")
	fs.BoolVar(&o.ExitWhenDone, "exit-when-done", false, "stop once every job has ended or waits for a person")
	fs.BoolVar(&o.JSON, "json", false, "print the closing summary as JSON")
	fs.StringVar(&o.Chip, "chip", "auto", "chip encoder: soft (in-process card), vicc (virtual card on pcscd), auto")
	fs.StringVar(&o.Web, "web", "127.0.0.1:8080", "serve the print-room web page on this loopback address (\"\" for none)")
	fs.StringVar(&o.Faults, "faults", "", "faults for printer p1, comma-separated CARD:PHASE:KIND, e.g. 3:print:jam")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: printstation-demo [flags]\n\nRuns the whole station on simulated printers, chips and central server.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Jobs < 1 || o.Printers < 1 || o.Printers > 8 || o.Speed <= 0 {
		fmt.Fprintln(stderr, "demo: --jobs ≥ 1, --printers 1..8 and --speed > 0 please")
		return 2
	}
	o.Log = stderr
	// With --json stdout is the one summary document; progress goes to
	// stderr so that `printstation-demo --json | jq` works.
	progress := stdout
	if o.JSON {
		progress = stderr
	}
	sum, err := Run(ctx, o, progress)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		if o.JSON {
			json.NewEncoder(stdout).Encode(map[string]any{"error": err.Error(), "exit": 1})
		}
		return 1
	}
	if o.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sum)
	}
	if sum.WaitingPerson > 0 || !sum.LedgerVerified {
		return 1
	}
	return 0
}

const stationID = "ST-DEMO-01"

// Run runs the demo until ctx ends (or, with ExitWhenDone, until the batch
// is done) and returns the summary.
func Run(ctx context.Context, o Options, progress io.Writer) (*Summary, error) {
	started := time.Now()
	out, err := filepath.Abs(o.Out)
	if err != nil {
		return nil, err
	}
	// A demo starts from a clean folder; a previous run's database would
	// hold its own jobs and stock.
	for _, p := range []string{"station.db", "station.db-wal", "station.db-shm", "central", "printers", "cards"} {
		os.RemoveAll(filepath.Join(out, p))
	}
	if err := os.MkdirAll(out, 0o750); err != nil {
		return nil, err
	}
	log := logging.New(o.Log, "warn", "auto")

	cen, err := startCentral(ctx, filepath.Join(out, "central"), o.Jobs)
	if err != nil {
		return nil, fmt.Errorf("central simulator: %w", err)
	}
	defer cen.Close()

	chipMode, beds, err := chipBeds(ctx, o)
	if err != nil {
		return nil, err
	}
	var sims []*simprinter.Sim
	var toml strings.Builder
	fmt.Fprintf(&toml, "station_id = %q\nstorage_dir = %q\nruntime_dir = %q\n\n", stationID, out, filepath.Join(out, "run"))
	fmt.Fprintf(&toml, "[central]\nurl = %q\nclient_cert = %q\nclient_key = %q\nca_file = %q\nwitness_key = %q\npoll_seconds = 5\n\n", cen.URL, cen.ClientCert, cen.ClientKey, cen.CAFile, cen.WitnessKey)
	fmt.Fprintf(&toml, "[[central.issuer_key]]\nid = %q\nfile = %q\n\n", cen.IssuerKID, cen.IssuerKeyFile)
	fmt.Fprintf(&toml, "[log]\nlevel = \"warn\"\n\n[engine]\ncheckpoint_every = 50\nshutdown_grace_seconds = 30\nchip_timeout_seconds = 20\n\n")
	for i := 1; i <= o.Printers; i++ {
		name := fmt.Sprintf("p%d", i)
		cfg := simprinter.Config{
			Serial:    fmt.Sprintf("DEMO%06d", i),
			Speed:     o.Speed,
			OutDir:    filepath.Join(out, "printers", name),
			Feeder:    o.Jobs + 20,
			OnStation: beds[i-1].hook,
			Log:       zerolog.Nop(),
		}
		if i == 1 && o.Faults != "" {
			for _, f := range strings.Split(o.Faults, ",") {
				ft, err := simprinter.ParseFault(strings.TrimSpace(f))
				if err != nil {
					return nil, err
				}
				cfg.Faults = append(cfg.Faults, ft)
			}
		}
		sim, err := simprinter.Open(cfg)
		if err != nil {
			return nil, fmt.Errorf("printer simulator %s: %w", name, err)
		}
		defer sim.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		go sim.Serve(ln)
		sims = append(sims, sim)
		fmt.Fprintf(&toml, "[[printer]]\nname = %q\ntransport = \"tcp\"\naddress = %q\nfeeder_capacity = %d\n", name, ln.Addr().String(), cfg.Feeder)
		if beds[i-1].reader != "" {
			fmt.Fprintf(&toml, "encoder_reader = %q\n", beds[i-1].reader)
		}
		toml.WriteString("\n")
	}
	cfgPath := filepath.Join(out, "demo.toml")
	if err := os.WriteFile(cfgPath, []byte(toml.String()), 0o644); err != nil {
		return nil, err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("the demo's own config: %w", err)
	}

	parts := func(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*station.Parts, error) {
		ps := &station.Parts{Printers: map[string]station.Printer{}, Encoders: map[string]station.Encoder{}}
		for i, pc := range cfg.Printers {
			d, err := printer.Open(ctx, pc.Driver, pc.Addr(), printer.Options{Name: pc.Name, Compress: true, Log: log})
			if err != nil {
				return nil, err
			}
			ps.Printers[pc.Name] = d
			enc, err := beds[i].encoder(ctx)
			if err != nil {
				return nil, err
			}
			ps.Encoders[pc.Name] = enc
		}
		ps.Close = func() {
			for _, p := range ps.Printers {
				p.Close()
			}
		}
		return ps, nil
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		eng     *station.Engine
		watchWG sync.WaitGroup
		total   = o.Jobs
	)
	ready := func(d *station.Daemon) {
		eng = d.Engine()
		if o.Web != "" { // web page: the demo's own --web flag
			// No default accounts: the demo makes its two people with
			// fresh PINs and shows them on the terminal.
			for _, p := range []struct {
				name string
				role accounts.Role
			}{{"operator", accounts.Operator}, {"supervisor", accounts.Supervisor}} {
				pin := demoPIN()
				if err := d.Accounts().Add(runCtx, accounts.Root, p.name, []accounts.Role{p.role}, []byte(pin)); err == nil {
					fmt.Fprintf(progress, "  page account %s, PIN %s\n", p.name, pin)
				}
			}
			go func() {
				if err := web.ForDaemon(runCtx, d, cfg, o.Web, log); err != nil {
					fmt.Fprintln(progress, "  web page not served:", err)
				}
			}()
		}
		watchWG.Add(1)
		go func() {
			defer watchWG.Done()
			drive(runCtx, eng, o, total, progress, stop)
		}()
	}
	fmt.Fprintf(progress, "printstation demo: station %s, %d printer(s) at speed ×%g, chip: %s, %d jobs from the central simulator\n", stationID, o.Printers, o.Speed, chipMode, o.Jobs)
	fmt.Fprintf(progress, "  config %s; cards → %s\n", cfgPath, filepath.Join(out, "printers"))
	if o.Web != "" {
		fmt.Fprintf(progress, "  print-room page: http://%s/\n", o.Web)
	}
	prep := func(ctx context.Context, e *station.Engine) error { return loadStock(ctx, e, o) }
	err = station.Run(runCtx, station.Options{Config: cfg, Log: log, Parts: parts, Ready: ready, Prepare: prep})
	stop()
	watchWG.Wait()
	for _, b := range beds {
		b.close()
	}
	if err != nil {
		return nil, err
	}
	// The summary is read even when the demo was stopped with a signal.
	return summarize(context.Background(), out, o, chipMode, started, sims, progress)
}

// drive loads stock, waits for the jobs to arrive, starts the batches and
// shows progress until every job has ended or waits for a person.
func drive(ctx context.Context, eng *station.Engine, o Options, total int, w io.Writer, stop func()) {
	evs, unsub := eng.Events()
	defer unsub()
	startedBatches := map[string]bool{}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-evs:
			switch ev.Type {
			case "card_spoiled", "printer_paused", "printer_attention", "job_attention", "job_uncertain":
				fmt.Fprintf(w, "  ! %s %s %s %s\n", ev.Type, ev.Printer, ev.Job, ev.Message)
			}
			continue
		case <-t.C:
		}
		bs, err := eng.Batches(ctx)
		if err != nil {
			continue
		}
		jobs, printed, remaining, waiting := 0, 0, 0, 0
		for _, b := range bs {
			if !startedBatches[b.ID] && b.State == "new" {
				if err := eng.SetBatch(ctx, b.ID, "start", "demo-operator"); err == nil {
					startedBatches[b.ID] = true
					fmt.Fprintf(w, "  batch %s started (%d jobs)\n", b.ID, b.Total)
				}
			}
			jobs += b.Total
			printed += b.Printed
			remaining += b.Remaining
			waiting += b.Waiting
		}
		line := fmt.Sprintf("  %s %d/%d printed, %d waiting for a person", bar(printed, total, 30), printed, total, waiting)
		if line != last {
			fmt.Fprintln(w, line)
			last = line
		}
		if o.ExitWhenDone && jobs >= total && remaining == waiting {
			stop()
			return
		}
	}
}

// loadStock records the delivery of blanks and their loading into each
// printer's feeder, as the storekeeper and operator would before a shift.
func loadStock(ctx context.Context, eng *station.Engine, o Options) error {
	if _, err := eng.RecordStock(ctx, station.StockOp{Op: "receive", Quantity: int64(o.Printers*(o.Jobs+20)) + 50, DeliveryRef: "DEMO-DELIVERY-1", Actor: "demo-storekeeper"}); err != nil {
		return fmt.Errorf("receiving stock: %w", err)
	}
	for i := 1; i <= o.Printers; i++ {
		if _, err := eng.RecordStock(ctx, station.StockOp{Op: "load", Quantity: int64(o.Jobs + 20), Printer: fmt.Sprintf("p%d", i), Actor: "demo-operator"}); err != nil {
			return fmt.Errorf("loading stock: %w", err)
		}
	}
	return nil
}

func bar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := done * width / total
	if n > width {
		n = width
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func summarize(ctx context.Context, out string, o Options, chipMode string, started time.Time, sims []*simprinter.Sim, w io.Writer) (*Summary, error) {
	dbPath := filepath.Join(out, "station.db")
	db, err := storage.OpenReadOnly(ctx, dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rep, err := inventory.Summarize(ctx, db, started.Add(-time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("reconciliation: %w", err)
	}
	vr, err := inventory.Verify(ctx, db, inventory.VerifyOptions{})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	sum := &Summary{Station: stationID, Jobs: o.Jobs, Chip: chipMode, Reconciliation: rep, LedgerVerified: vr.OK(),
		BlanksConsumed: rep.Consumed, SpoiledBy: rep.Spoiled, Files: map[string]string{
			"database": dbPath,
			"config":   filepath.Join(out, "demo.toml"),
			"cards":    filepath.Join(out, "printers"),
		}}
	for _, n := range rep.Spoiled {
		sum.BlanksSpoiled += n
	}
	err = db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE state = 'printed'), count(*) FILTER (WHERE state IN ('uncertain','attention')) FROM job_jobs`).Scan(&sum.Printed, &sum.WaitingPerson)
	if err != nil {
		return nil, fmt.Errorf("counting jobs: %w", err)
	}
	el := time.Since(started)
	sum.Elapsed = el.Round(time.Millisecond).String()
	if el > 0 {
		sum.CardsPerHour = float64(sum.Printed) / el.Hours()
	}
	for i := range sims {
		sum.Files[fmt.Sprintf("journal_p%d", i+1)] = filepath.Join(out, "printers", fmt.Sprintf("p%d", i+1), "journal.jsonl")
	}
	if !o.JSON {
		keys := make([]string, 0, len(sum.SpoiledBy))
		for k := range sum.SpoiledBy {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "\ndone in %s: %d of %d jobs printed, %d wait for a person\n", sum.Elapsed, sum.Printed, sum.Jobs, sum.WaitingPerson)
		fmt.Fprintf(w, "blanks: %d consumed, %d spoiled", sum.BlanksConsumed, sum.BlanksSpoiled)
		for _, k := range keys {
			fmt.Fprintf(w, " (%s: %d)", k, sum.SpoiledBy[k])
		}
		fmt.Fprintf(w, "\nreconciliation: received %d; storage %d → %d", rep.Received, rep.Storage.Opening, rep.Storage.Closing)
		for _, p := range rep.Printers {
			fmt.Fprintf(w, "; %s: loaded %d, fed %d, consumed %d, closing %d", p.Printer, p.Loaded, p.Fed, p.Consumed, p.Closing)
		}
		fmt.Fprintf(w, "\nledger: %d events, %d signed checkpoints, verified: %v\n", vr.Events, vr.Checkpoints, vr.OK())
		for _, pr := range vr.Problems {
			fmt.Fprintln(w, "  problem:", pr)
		}
		fmt.Fprintf(w, "cards: %s\naudit it yourself: printstationctl audit verify --db %s\n", sum.Files["cards"], dbPath)
	}
	return sum, nil
}

// blankAID is the application the card maker installs on every blank; the
// synthetic jobs personalize files inside it.
var blankAID = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

// bed is one printer's chip test bed: what goes in the encoder when the
// printer moves a card there.
type bed struct {
	hook    func(simprinter.StationEvent)
	encoder func(ctx context.Context) (station.Encoder, error)
	reader  string // config's encoder_reader (vicc mode)
	close   func()
}

// softBed puts a fresh software card with its own UID in the printer's
// encoder whenever a blank reaches it.
func softBed(printerNo int) bed {
	r := chiptest.NewReader()
	b := &chiptest.Bed{Reader: r, UIDPrefix: []byte{0x04, byte(printerNo), 0x80, 0x01},
		Blank: chiptest.Config{Extended: true, Applications: [][]byte{blankAID}}}
	return bed{
		hook:    func(ev simprinter.StationEvent) { b.Station(ev.Card, ev.Arrived) },
		encoder: func(context.Context) (station.Encoder, error) { return r.Encoder(), nil },
		close:   func() {},
	}
}

// demoPIN is a fresh random 8-digit PIN for a demo account.
func demoPIN() string {
	n, _ := rand.Int(rand.Reader, big.NewInt(100_000_000))
	return fmt.Sprintf("%08d", n)
}
