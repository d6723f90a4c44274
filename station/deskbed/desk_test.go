package deskbed_test

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/card"
	"printstation/chip/pcsc"
	"printstation/config"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/printer/ipp"
	"printstation/printer/ipp/ipptest"
	"printstation/sim/central"
	"printstation/sim/chip/vicc"
	"printstation/station"
	"printstation/storage"
)

func TestMain(m *testing.M) { os.Exit(vicc.RunTests(m, "desk flow", nil)) }

// blankAID is the application the synthetic jobs personalize; blanks come
// from the card maker with it installed.
var blankAID = []byte{0xA0, 0x00, 0x00, 0x02, 0x47, 0x10, 0x01}

type bed struct {
	t    *testing.T
	dir  string
	eng  *station.Engine
	db   *sql.DB
	eve  *ipptest.Eve
	key  ed25519.PrivateKey
	port int

	mu      sync.Mutex
	card    *vicc.Card // on the desk reader now
	cardUID string
	n       int
	placed  []string          // UIDs of blanks placed on the reader
	dumps   map[string]string // UID → the card's latest dump (its chip as it left the reader)
}

func newBed(t *testing.T, waitSeconds int) *bed {
	t.Helper()
	b := &bed{t: t, dir: t.TempDir(), port: vicc.Port0, dumps: map[string]string{}}
	b.eve = ipptest.StartEve(t, ipptest.EveOptions{})
	pub, priv, _ := ed25519.GenerateKey(nil)
	b.key = priv
	os.WriteFile(filepath.Join(b.dir, "issuer.pub"), []byte(base64.StdEncoding.EncodeToString(pub)), 0o644)
	reader := vicc.ReaderName(b.port)
	toml := fmt.Sprintf("station_id = \"ST-D\"\nstorage_dir = %q\n[[central.issuer_key]]\nid = \"k1\"\nfile = \"issuer.pub\"\n[engine]\nmax_attempts = 3\nchip_timeout_seconds = 20\ndesk_wait_seconds = %d\n"+
		"[[printer]]\nname = \"d1\"\ntransport = \"ipp\"\nuri = %q\nencoder = \"desk\"\nencoder_reader = %q\n", b.dir, waitSeconds, b.eve.URI, reader)
	cfg, err := config.Parse(filepath.Join(b.dir, "s.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(b.dir, "station.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b.db = db
	parts := func(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*station.Parts, error) {
		drv, err := printer.Open(ctx, "ipp", b.eve.URI, printer.Options{Name: "d1", Timeouts: printer.Timeouts{Print: 20 * time.Second}})
		if err != nil {
			return nil, err
		}
		drv.(*ipp.Driver).SetPoll(20 * time.Millisecond)
		enc, err := pcsc.Open(ctx, reader)
		if err != nil {
			return nil, err
		}
		return &station.Parts{Printers: map[string]station.Printer{"d1": drv}, Encoders: map[string]station.Encoder{"d1": enc},
			Close: func() { drv.Close(); enc.Close() }}, nil
	}
	b.eng, err = station.NewEngine(ctx, station.EngineConfig{Config: cfg, DB: db, Log: zerolog.Nop(), Parts: parts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.remove)
	return b
}

// jobs signs and stores n jobs, loads the printer and starts the batch.
func (b *bed) jobs(n int) []string {
	b.t.Helper()
	ctx := context.Background()
	q := b.eng.Queue()
	tpl := card.DemoTemplateJSON()
	ref := jobqueue.TemplateRef{ID: "ektp-demo-v1", SHA256: card.Hash(tpl)}
	if err := q.PutTemplate(ctx, ref.ID, ref.SHA256, tpl); err != nil {
		b.t.Fatal(err)
	}
	var ids []string
	base := time.Now().Add(-time.Hour)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("J-D-%03d", i)
		spec := central.JobSpec{Station: "ST-D", JobID: id, Batch: "B1", Recorded: base.Add(time.Duration(i) * time.Minute), Issued: base, Template: ref, KID: "k1", Seed: uint64(i + 1)}
		jws, err := central.Sign(b.key, "k1", spec.Payload())
		if err != nil {
			b.t.Fatal(err)
		}
		if _, err := q.Add(ctx, jws); err != nil {
			b.t.Fatal(err)
		}
		ids = append(ids, id)
	}
	for _, op := range []station.StockOp{{Op: "receive", Quantity: 100, DeliveryRef: "D1", Actor: "store"}, {Op: "load", Quantity: 50, Printer: "d1", Actor: "op"}} {
		if _, err := b.eng.RecordStock(ctx, op); err != nil {
			b.t.Fatal(err)
		}
	}
	if err := b.eng.SetBatch(ctx, "B1", "start", "op"); err != nil {
		b.t.Fatal(err)
	}
	return ids
}

// insert puts a card on the desk reader: a fresh blank (restore "") or a
// card coming back with the chip it left with.
func (b *bed) insert(uid, restore string) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	dump := filepath.Join(b.dir, fmt.Sprintf("tap-%03d.json", b.n))
	raw, _ := hex.DecodeString(uid)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := vicc.Start(ctx, vicc.Options{Port: b.port, UID: raw, DumpPath: dump, Restore: restore, Applications: [][]byte{blankAID}})
	if err != nil {
		b.t.Errorf("inserting card %s: %v", uid, err)
		return
	}
	b.card, b.cardUID = c, uid
	b.dumps[uid] = dump
}

func (b *bed) remove() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.card != nil {
		b.card.Remove()
		b.card = nil
	}
}

func (b *bed) onReader() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.card != nil
}

// operate plays the operator until ctx ends. tapBack picks what goes on
// the reader when the printed card is asked for: "" for nothing.
func (b *bed) operate(ctx context.Context, tapBack func(job, written string) string) {
	blank := 0
	tapped := ""
	for ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		v, _ := b.eng.Desk("d1")
		switch v.Step {
		case "place_blank":
			tapped = ""
			if !b.onReader() {
				blank++
				uid := fmt.Sprintf("04DE5C%04X", blank)
				b.mu.Lock()
				b.placed = append(b.placed, uid)
				b.mu.Unlock()
				b.insert(uid, "")
			}
		case "to_feed", "put_aside", "":
			// "": between cards — nothing belongs on the reader.
			b.remove()
		case "tap_back":
			if !b.onReader() && tapped != v.Job+v.Message {
				tapped = v.Job + v.Message
				if uid := tapBack(v.Job, v.UID); uid != "" {
					b.mu.Lock()
					restore := b.dumps[uid]
					b.mu.Unlock()
					b.insert(uid, restore)
				}
			}
		}
	}
}

// run runs the engine with the operator until cond, bounded.
func (b *bed) run(tapBack func(job, written string) string, cond func() bool) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.eng.Run(ctx) }()
	opDone := make(chan struct{})
	go func() { b.operate(ctx, tapBack); close(opDone) }()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			cancel()
			<-done
			<-opDone
			as, _ := b.eng.AttentionList(context.Background())
			b.t.Fatalf("not reached: %s; attention %+v", b.eng.StatusLine(), as)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.eng.Drain()
	cancel()
	<-done
	<-opDone
	b.remove()
}

func (b *bed) states(ids []string, want jobqueue.State) func() bool {
	return func() bool {
		for _, id := range ids {
			m, err := b.eng.Queue().Meta(context.Background(), id)
			if err != nil || m.State != want {
				return false
			}
		}
		return true
	}
}

func (b *bed) ledger() (consumed map[string]string, spoiled map[string]string) {
	b.t.Helper()
	consumed, spoiled = map[string]string{}, map[string]string{}
	rows, err := b.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		b.t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var raw []byte
		rows.Scan(&raw)
		en, err := inventory.ParseEntry(raw)
		if err != nil {
			b.t.Fatal(err)
		}
		e := en.Event
		if e.Kind != inventory.Consumed && e.Kind != inventory.Spoiled {
			continue
		}
		if seen[e.UID] {
			b.t.Fatalf("card %s twice in the ledger", e.UID)
		}
		seen[e.UID] = true
		if e.Kind == inventory.Consumed {
			if _, dup := consumed[e.Job]; dup {
				b.t.Fatalf("job %s has two cards", e.Job)
			}
			consumed[e.Job] = e.UID
		} else {
			spoiled[e.UID] = e.Reason
		}
	}
	return
}

// TestDeskBatchOnPCSC: a batch through the desk reader on the real pcscd
// and the print queue; each job's card is the one written for it, its chip
// read back from the card's own dump.
func TestDeskBatchOnPCSC(t *testing.T) {
	b := newBed(t, 20)
	ids := b.jobs(3)
	b.run(func(_, written string) string { return written }, b.states(ids, jobqueue.Printed))
	consumed, spoiled := b.ledger()
	if len(consumed) != 3 || len(spoiled) != 0 {
		t.Fatalf("consumed %v spoiled %v", consumed, spoiled)
	}
	for _, uid := range b.placed {
		found := false
		for _, c := range consumed {
			found = found || c == uid
		}
		if !found {
			t.Errorf("blank %s placed on the reader is not in the ledger", uid)
		}
	}
	for id, uid := range consumed {
		d, err := vicc.ReadDump(b.dumps[uid])
		if err != nil || len(d.Files) == 0 {
			t.Errorf("job %s: card %s has no written chip: %v %+v", id, uid, err, d)
		}
	}
	if n := len(b.eve.Documents()); n != 3 {
		t.Fatalf("the queue printed %d faces for 3 jobs", n)
	}
}

// TestDeskWrongAndMissingCardOnPCSC: one job's printed card is answered
// with a fresh blank, the next job's card never comes back: neither is
// counted, both wait for a person, and the person's decisions end in the
// ledger with each written card's UID and reason.
func TestDeskWrongAndMissingCardOnPCSC(t *testing.T) {
	b := newBed(t, 3)
	ids := b.jobs(2)
	// The person at the station settles each card that waits for them as
	// it comes (a spoil also lets the paused printer go on).
	spoiledJobs := map[string]bool{}
	wrongFor := map[string]bool{} // written UIDs answered with the wrong card
	b.run(func(job, written string) string {
		if len(wrongFor) == 0 {
			wrongFor[written] = true
			return "04AAAA0001" // a blank from the stack, not the printed card
		}
		return "" // never tapped back
	}, func() bool {
		as, _ := b.eng.AttentionList(context.Background())
		for _, a := range as {
			if a.State != "uncertain" {
				continue
			}
			if consumed, _ := b.ledger(); len(consumed) != 0 {
				t.Fatalf("a card was counted without the right tap back: %v", consumed)
			}
			if err := b.eng.Spoil(context.Background(), a.Job, "supervisor"); err != nil {
				t.Fatal(err)
			}
			spoiledJobs[a.Job] = true
		}
		return spoiledJobs[ids[0]] && spoiledJobs[ids[1]]
	})
	_, spoiled := b.ledger()
	if len(wrongFor) != 1 {
		t.Fatalf("the wrong card was never tapped back")
	}
	for _, uid := range b.placed {
		want := inventory.ReasonNotTappedBack
		if wrongFor[uid] {
			want = inventory.ReasonWrongChip
		}
		if r, ok := spoiled[uid]; ok {
			if r != want {
				t.Errorf("card %s spoiled as %s, want %s", uid, r, want)
			}
			continue
		}
		// The last card may still wait for a person (the run stopped
		// while it was at the desk): it is on record, not counted.
		var n int
		b.db.QueryRow(`SELECT count(*) FROM station_intents WHERE uid=? AND resolution='uncertain'`, uid).Scan(&n)
		if n != 1 {
			t.Errorf("card %s was written at the desk but is neither in the ledger nor waiting for a person", uid)
		}
	}
	t.Logf("placed %v; spoiled %v", b.placed, spoiled)
}
