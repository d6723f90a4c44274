package station

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/rs/zerolog"

	"printstation/card"
	"printstation/chip/chiptest"
	"printstation/config"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/printer/printertest"
	"printstation/printer/raster"
	"printstation/sim/central"
	"printstation/storage"
)

// blankAID is the application the synthetic jobs personalize.
var blankAID = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

// rig is a station on fake printers and software chips.
type rig struct {
	t        testing.TB
	eng      *Engine
	fakes    map[string]*printertest.Driver
	readers  map[string]*chiptest.Reader
	cardCfg  func(printer string, n int) chiptest.Config
	cfg      *config.Config
	key      ed25519.PrivateKey
	dir      string
	partsFn  PartsFactory // replaces the fakes (fault matrix)
	timeouts printer.Timeouts
	sync     func(*jobqueue.SyncOptions)
	stockN   int64              // blanks loaded per printer by stock (default 100)
	encoders map[string]Encoder // replaces a printer's software encoder
	confirm  Encoder            // the desk reader (confirm_reader)
	wrapped  map[string]*chipPrinter
	journal  io.Writer // the engine's log, when a test reads it (else none)
}

// chipPrinter gives a fake printer a contactless station: each blank it
// feeds brings a fresh software chip (chiptest.Bed), which follows the card
// to the encoder and away from it.
type chipPrinter struct {
	*printertest.Driver
	bed *chiptest.Bed
	mu  sync.Mutex
	n   int // blanks fed
	// down cuts the link: every call fails as a disconnected printer, and
	// nothing moves.
	down atomic.Bool
	// after, when set, runs after each call that took effect (a test's
	// person or cable acting at an exact point of the card).
	after func(op string)
	// stall makes the next status call hang until its caller gives up: a
	// printer that stops answering without closing the link.
	stall atomic.Bool
	// onPrint, when set, sees the panels of each print before the fake
	// prints them; onEject each eject before it happens.
	onPrint func(p *raster.Panels)
	onEject func()
}

func (c *chipPrinter) cut(op string) error {
	if c.down.Load() {
		return &printer.Error{Printer: "p", Op: op, Kind: printer.KindDisconnected, Detail: "link cut by the test"}
	}
	return nil
}

func (c *chipPrinter) done(op string, err error) error {
	if err == nil && c.after != nil {
		c.after(op)
	}
	return err
}

func (c *chipPrinter) Status(ctx context.Context) (printer.Status, error) {
	if err := c.cut("status"); err != nil {
		return printer.Status{}, err
	}
	if c.stall.CompareAndSwap(true, false) {
		<-ctx.Done()
		return printer.Status{}, ctx.Err()
	}
	return c.Driver.Status(ctx)
}

func (c *chipPrinter) Counters(ctx context.Context) (printer.Counters, error) {
	if err := c.cut("counters"); err != nil {
		return printer.Counters{}, err
	}
	ctr, err := c.Driver.Counters(ctx)
	return ctr, c.done("counters-read", err)
}

func (c *chipPrinter) Print(ctx context.Context, side printer.Side, p *raster.Panels) error {
	if err := c.cut("print"); err != nil {
		return err
	}
	if c.onPrint != nil {
		c.onPrint(p)
	}
	return c.done("print", c.Driver.Print(ctx, side, p))
}

func (c *chipPrinter) Feed(ctx context.Context) error {
	if err := c.cut("feed"); err != nil {
		return err
	}
	err := c.Driver.Feed(ctx)
	if err == nil {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return c.done("feed", err)
}

func (c *chipPrinter) card() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *chipPrinter) MoveTo(ctx context.Context, st printer.Station) error {
	if err := c.cut("move"); err != nil {
		return err
	}
	err := c.Driver.MoveTo(ctx, st)
	if err == nil && st == printer.StationContactless {
		c.bed.Station(c.card(), true)
	}
	return c.done("move", err)
}

func (c *chipPrinter) Eject(ctx context.Context) error {
	if err := c.cut("eject"); err != nil {
		return err
	}
	if c.onEject != nil {
		c.onEject()
	}
	c.bed.Station(c.card(), false)
	return c.done("eject", c.Driver.Eject(ctx))
}

func (c *chipPrinter) Reject(ctx context.Context) error {
	if err := c.cut("reject"); err != nil {
		return err
	}
	c.bed.Station(c.card(), false)
	return c.done("reject", c.Driver.Reject(ctx))
}

func newRig(t testing.TB, printers ...string) *rig {
	t.Helper()
	dir := t.TempDir()
	pub, priv, _ := ed25519.GenerateKey(nil)
	os.WriteFile(filepath.Join(dir, "issuer.pub"), []byte(base64.StdEncoding.EncodeToString(pub)), 0o644)
	toml := fmt.Sprintf("station_id = \"ST-T\"\nstorage_dir = %q\n[[central.issuer_key]]\nid = \"k1\"\nfile = \"issuer.pub\"\n[engine]\nmax_attempts = 3\nchip_timeout_seconds = 2\n", dir)
	for i, p := range printers {
		toml += fmt.Sprintf("[[printer]]\nname = %q\ntransport = \"tcp\"\naddress = \"127.0.0.1:%d\"\n", p, 9100+i)
	}
	cfg, err := config.Parse(filepath.Join(dir, "s.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{t: t, fakes: map[string]*printertest.Driver{}, readers: map[string]*chiptest.Reader{}, cfg: cfg, key: priv, dir: dir}
	for _, p := range printers {
		r.fakes[p] = printertest.New(p, 100)
		r.readers[p] = chiptest.NewReader()
	}
	return r
}

func (r *rig) parts(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Parts, error) {
	if r.partsFn != nil {
		return r.partsFn(ctx, cfg, log)
	}
	ps := &Parts{Printers: map[string]Printer{}, Encoders: map[string]Encoder{}, Close: func() {}}
	for name, f := range r.fakes {
		// The printers outlive a daemon restart, and the card inside keeps
		// its chip.
		if r.wrapped == nil {
			r.wrapped = map[string]*chipPrinter{}
		}
		if r.wrapped[name] == nil {
			name := name
			bed := &chiptest.Bed{Reader: r.readers[name], UIDPrefix: []byte{0x04, name[1], 0x11, 0x22},
				// Blanks come from the card maker with the application installed.
				Card: func(n int) chiptest.Config {
					cc := chiptest.Config{}
					if r.cardCfg != nil {
						cc = r.cardCfg(name, n)
					}
					cc.Applications = [][]byte{blankAID}
					return cc
				}}
			r.wrapped[name] = &chipPrinter{Driver: f, bed: bed}
		}
		ps.Printers[name] = r.wrapped[name]
		ps.Encoders[name] = r.readers[name].Encoder()
		if enc := r.encoders[name]; enc != nil {
			ps.Encoders[name] = enc
		}
	}
	ps.Confirm = r.confirm
	return ps, nil
}

// open starts an engine on the rig's database (again, after a "crash").
func (r *rig) open() *Engine {
	r.t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(r.dir, "station.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { db.Close() })
	// The issuer key is pinned through the queue's options directly.
	log := zerolog.Nop()
	if r.journal != nil {
		log = zerolog.New(r.journal)
	}
	e, err := NewEngine(ctx, EngineConfig{Config: r.cfg, DB: db, Log: log, Parts: r.parts, Sync: r.sync})
	if err != nil {
		r.t.Fatal(err)
	}
	r.eng = e
	return e
}

// addJobs signs n jobs of batch b with the rig's issuer key and stores them.
func (r *rig) addJobs(b string, n int) []string {
	r.t.Helper()
	ctx := context.Background()
	q := r.eng.queue
	tpl := card.DemoTemplateJSON()
	ref := jobqueue.TemplateRef{ID: "ektp-demo-v1", SHA256: card.Hash(tpl)}
	if err := q.PutTemplate(ctx, ref.ID, ref.SHA256, tpl); err != nil {
		r.t.Fatal(err)
	}
	var ids []string
	base := time.Now().Add(-time.Hour)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("J-%s-%03d", b, i)
		spec := central.JobSpec{Station: "ST-T", JobID: id, Batch: b, Recorded: base.Add(time.Duration(i) * time.Minute), Issued: base, Template: ref, KID: "k1", Seed: uint64(i + 1)}
		jws, err := central.Sign(r.key, "k1", spec.Payload())
		if err != nil {
			r.t.Fatal(err)
		}
		if _, err := q.Add(ctx, jws); err != nil {
			r.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

func (r *rig) stock(printers ...string) {
	r.t.Helper()
	ctx := context.Background()
	if _, err := r.eng.RecordStock(ctx, StockOp{Op: "receive", Quantity: 1000, DeliveryRef: "D1", Actor: "store"}); err != nil {
		r.t.Fatal(err)
	}
	for _, p := range printers {
		n := r.stockN
		if n == 0 {
			n = 100
		}
		if _, err := r.eng.RecordStock(ctx, StockOp{Op: "load", Quantity: n, Printer: p, Actor: "op"}); err != nil {
			r.t.Fatal(err)
		}
	}
}

// batch opens the engine, adds n jobs in batch B1, loads every printer
// and starts the batch, as an operator would.
func (r *rig) batch(n int) (*Engine, []string) {
	r.t.Helper()
	e := r.open()
	ids := r.addJobs("B1", n)
	r.stock(r.printerNames()...)
	if err := e.SetBatch(context.Background(), "B1", "start", "op"); err != nil {
		r.t.Fatal(err)
	}
	return e, ids
}

func (r *rig) printerNames() []string {
	var names []string
	for n := range r.fakes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// runUntil runs the engine until cond holds (checked every 20 ms), then
// drains it. It fails the test after a generous bound.
func (r *rig) runUntil(cond func() bool) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.eng.Run(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			bs, _ := r.eng.Batches(context.Background())
			as, _ := r.eng.AttentionList(context.Background())
			r.t.Fatalf("condition not reached; status: %s; batches %+v; attention %+v", r.eng.StatusLine(), bs, as)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.eng.Drain()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		r.t.Fatal("engine did not drain")
	}
	cancel()
}

func (r *rig) states(ids []string) map[string]jobqueue.State {
	out := map[string]jobqueue.State{}
	for _, id := range ids {
		m, err := r.eng.queue.Meta(context.Background(), id)
		if err != nil {
			r.t.Fatal(err)
		}
		out[id] = m.State
	}
	return out
}

func (r *rig) allIn(ids []string, want ...jobqueue.State) func() bool {
	return func() bool {
		for _, s := range r.states(ids) {
			ok := false
			for _, w := range want {
				ok = ok || s == w
			}
			if !ok {
				return false
			}
		}
		return true
	}
}

// ledgerByJob counts consumed and spoiled events per job.
func (r *rig) ledgerByJob() (consumed, spoiled map[string]int, uids map[string]bool) {
	consumed, spoiled, uids = map[string]int{}, map[string]int{}, map[string]bool{}
	rows, err := r.eng.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		e, err := inventory.ParseEntry(b)
		if err != nil {
			r.t.Fatal(err)
		}
		switch e.Kind {
		case inventory.Consumed:
			consumed[e.Job]++
			if uids[e.UID] {
				r.t.Fatalf("UID %s consumed twice", e.UID)
			}
			uids[e.UID] = true
		case inventory.Spoiled:
			spoiled[e.Job]++
		}
	}
	return
}

func TestBatchOnTwoPrinters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1", "p2")
		e, ids := r.batch(8)
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		consumed, spoiled, _ := r.ledgerByJob()
		for _, id := range ids {
			if consumed[id] != 1 {
				t.Errorf("job %s has %d consumed blanks, want 1", id, consumed[id])
			}
		}
		if len(spoiled) != 0 {
			t.Errorf("spoiled blanks on a clean run: %v", spoiled)
		}
		// Both printers took part, and each fed exactly the cards it ejected.
		for name, f := range r.fakes {
			ops := f.Ops()
			feeds, ejects := count(ops, "feed"), count(ops, "eject")
			if feeds == 0 || feeds != ejects {
				t.Errorf("printer %s: %d feeds, %d ejects", name, feeds, ejects)
			}
		}
		st, _ := e.ledger.Stock(context.Background())
		if st.Consumed != 8 || st.Printers["p1"]+st.Printers["p2"] != 192 {
			t.Errorf("stock after 8 cards: %+v", st)
		}
	})
}

func count(ops []string, op string) int {
	n := 0
	for _, o := range ops {
		if o == op {
			n++
		}
	}
	return n
}

func TestChipFailureSpoilsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		// The first blank's chip refuses writes; the next ones are fine.
		r.cardCfg = func(p string, n int) chiptest.Config {
			if n == 1 {
				return chiptest.Config{RefuseWrites: 0x6581}
			}
			return chiptest.Config{}
		}
		_, ids := r.batch(2)
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		consumed, spoiled, _ := r.ledgerByJob()
		if spoiled[ids[0]] != 1 || consumed[ids[0]] != 1 || consumed[ids[1]] != 1 {
			t.Fatalf("consumed %v spoiled %v", consumed, spoiled)
		}
		if n := count(r.fakes["p1"].Ops(), "reject"); n != 1 {
			t.Fatalf("%d cards to the reject box, want 1", n)
		}
	})
}

func TestAttemptBoundWaitsForPerson(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.cardCfg = func(p string, n int) chiptest.Config { return chiptest.Config{RefuseWrites: 0x6581} }
		e, ids := r.batch(1)
		r.runUntil(r.allIn(ids, jobqueue.Attention))
		_, spoiled, _ := r.ledgerByJob()
		if spoiled[ids[0]] != 3 {
			t.Fatalf("%d blanks spoiled, want the bound 3", spoiled[ids[0]])
		}
		as, _ := e.AttentionList(context.Background())
		if len(as) != 1 || as[0].Job != ids[0] || as[0].Reason == "" {
			t.Fatalf("attention list %+v", as)
		}
	})
}

// A jam pauses the printer it happened on (one blank spoiled there, no
// more fed), and the other printer finishes the batch, the jammed job too.
func TestJamPausesPrinterOthersGoOn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1", "p2")
		r.fakes["p1"].FailOn("print", 1, printer.KindJam)
		e, ids := r.batch(6)
		var p1 PrinterState
		r.runUntil(func() bool {
			p1 = e.byName["p1"].snapshot()
			return r.allIn(ids, jobqueue.Printed)()
		})
		consumed, spoiled, _ := r.ledgerByJob()
		total := 0
		for _, id := range ids {
			if consumed[id] != 1 {
				t.Errorf("job %s consumed %d", id, consumed[id])
			}
			total += spoiled[id]
		}
		if total != 1 {
			t.Fatalf("spoiled %d blanks, want the one jammed card", total)
		}
		// Without the pause p1 would go on feeding blanks after the jam.
		if f := count(r.fakes["p1"].Ops(), "feed"); f != 1 {
			t.Fatalf("p1 fed %d blanks, want only the one that jammed", f)
		}
		if p1.State != string(wPaused) || !strings.Contains(p1.Message, "jam") {
			t.Fatalf("p1 after a jam: %s %q", p1.State, p1.Message)
		}
		if f := count(r.fakes["p2"].Ops(), "feed"); f != 6 {
			t.Fatalf("p2 fed %d blanks, want all 6 cards", f)
		}
	})
}

func TestCrashRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1", "p2")
		e := r.open()
		ids := r.addJobs("B1", 2)
		r.stock("p1", "p2")
		ctx := context.Background()
		// Job 0 on p1: intent written, then the daemon died before the feed.
		// Job 1 on p2: intent written and the blank fed, then the daemon died.
		for i, id := range ids {
			pr := []string{"p1", "p2"}[i]
			storage.InTx(ctx, e.db, func(tx *sql.Tx) error { return e.queue.SetState(ctx, tx, id, jobqueue.Printing, "") })
			ctr, _ := r.fakes[pr].Counters(ctx)
			e.db.Exec(`INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES (?,?,?,?,?)`, id, pr, 1, ctr.CardsInserted, now())
			if i == 1 {
				r.fakes[pr].Feed(ctx)
			}
		}
		e2 := r.open() // restart: recovery runs
		st := r.states(ids)
		if st[ids[0]] != jobqueue.Queued {
			t.Errorf("unfed job is %s, want queued", st[ids[0]])
		}
		if st[ids[1]] != jobqueue.Uncertain {
			t.Fatalf("fed job is %s, want uncertain", st[ids[1]])
		}
		// Running the engine never prints the uncertain job on its own.
		e2.SetBatch(ctx, "B1", "start", "op")
		r.runUntil(r.allIn(ids[:1], jobqueue.Printed))
		if s := r.states(ids)[ids[1]]; s != jobqueue.Uncertain {
			t.Fatalf("uncertain job moved to %s without a person", s)
		}
		// A person spoils it; then it prints on a new blank.
		if err := e2.Spoil(ctx, ids[1], "supervisor"); err != nil {
			t.Fatal(err)
		}
		r.runUntil(r.allIn(ids, jobqueue.Printed))
		consumed, spoiled, _ := r.ledgerByJob()
		if consumed[ids[1]] != 1 || spoiled[ids[1]] != 1 {
			t.Fatalf("job 1: consumed %d spoiled %d", consumed[ids[1]], spoiled[ids[1]])
		}
	})
}

// crashWithCardAtEncoder leaves p1 as a daemon killed mid-card leaves it:
// the job printing, its intent open, the blank fed and at the encoder.
func (r *rig) crashWithCardAtEncoder(job string) {
	ctx := context.Background()
	e := r.eng
	storage.InTx(ctx, e.db, func(tx *sql.Tx) error { return e.queue.SetState(ctx, tx, job, jobqueue.Printing, "") })
	e.db.Exec(`INSERT INTO station_intents(job_id, printer, attempt, counter_before, created_at) VALUES (?,?,?,?,?)`, job, "p1", 1, 0, now())
	pr := e.parts.Printers["p1"]
	pr.Feed(ctx)
	pr.MoveTo(ctx, printer.StationContactless)
}

// After a crash between the eject and the ledger's commit, a person
// confirms the card: the engine reads its chip back, compares it with the
// job and counts the card for the job — without printing a second one.
func TestConfirmUncertainCard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		e := r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		// The daemon fed the blank, wrote the chip, and died.
		r.crashWithCardAtEncoder(ids[0])
		p := r.eng.parts
		meta, _ := e.queue.Meta(ctx, ids[0])
		prep, err := e.prepare(ctx, meta, "p1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Encoders["p1"].Personalize(ctx, prep.perso); err != nil {
			t.Fatal(err)
		}
		// ... printed and ejected it, and died before the ledger recorded it.
		p.Printers["p1"].Eject(ctx)

		e2 := r.open()
		if s := r.states(ids)[ids[0]]; s != jobqueue.Uncertain {
			t.Fatalf("job is %s after restart, want uncertain", s)
		}
		feedsBefore := count(r.fakes["p1"].Ops(), "feed")
		// Without the card at the reader, confirm says what to do.
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil || !strings.Contains(err.Error(), "hold the card") {
			t.Fatalf("confirm with no card at the reader: %v", err)
		}
		// The supervisor holds the card to the encoder.
		r.readers["p1"].Insert(r.wrapped["p1"].bed.Current())
		uid, err := e2.Confirm(ctx, ids[0], "supervisor")
		if err != nil {
			t.Fatal(err)
		}
		if s := r.states(ids)[ids[0]]; s != jobqueue.Printed {
			t.Fatalf("confirmed job is %s", s)
		}
		consumed, spoiled, uids := r.ledgerByJob()
		if consumed[ids[0]] != 1 || spoiled[ids[0]] != 0 || !uids[uid] {
			t.Fatalf("ledger after confirm: consumed %v spoiled %v uid %s", consumed, spoiled, uid)
		}
		if n := count(r.fakes["p1"].Ops(), "feed"); n != feedsBefore {
			t.Fatal("confirming fed another blank")
		}
		// A second confirm is refused: the job no longer waits.
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil {
			t.Fatal("confirmed twice")
		}
	})
}

// A card still inside the printer after a crash is unfinished: it cannot
// be confirmed, only spoiled, and spoiling sends it to the reject box and
// the job back to the queue.
func TestCardInsideIsSpoiledNotConfirmed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		r.crashWithCardAtEncoder(ids[0])
		e2 := r.open()
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil || !strings.Contains(err.Error(), "still inside") {
			t.Fatalf("confirm of a card inside: %v", err)
		}
		if err := e2.Spoil(ctx, ids[0], "supervisor"); err != nil {
			t.Fatal(err)
		}
		if n := count(r.fakes["p1"].Ops(), "reject"); n != 1 {
			t.Fatalf("%d rejects, want the card moved to the reject box", n)
		}
		if s := r.states(ids)[ids[0]]; s != jobqueue.Queued {
			t.Fatalf("job after spoil is %s, want queued", s)
		}
		_, spoiled, _ := r.ledgerByJob()
		if spoiled[ids[0]] != 1 {
			t.Fatalf("spoiled %d", spoiled[ids[0]])
		}
	})
}

// A card whose chip does not hold the job's data cannot be confirmed.
func TestConfirmRefusesWrongChip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, "p1")
		r.open()
		ids := r.addJobs("B1", 1)
		r.stock("p1")
		ctx := context.Background()
		r.crashWithCardAtEncoder(ids[0]) // a blank chip: nothing written
		r.eng.parts.Printers["p1"].Eject(ctx)
		r.readers["p1"].Insert(r.wrapped["p1"].bed.Current())
		e2 := r.open()
		if _, err := e2.Confirm(ctx, ids[0], "supervisor"); err == nil {
			t.Fatal("a blank chip was confirmed for the job")
		}
		if s := r.states(ids)[ids[0]]; s != jobqueue.Uncertain {
			t.Fatalf("job is %s after a refused confirm", s)
		}
	})
}
