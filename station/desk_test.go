package station

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/chip/chiptest"
	"printstation/config"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/printer/ipp"
	"printstation/printer/ipp/ipptest"
)

// deskRig is a station with one desk printer "d1": a real ippeveprinter as
// its print queue and a software reader as its desk reader, and an
// operator that does what the desk step asks.
type deskRig struct {
	*rig
	eve    *ipptest.Eve
	reader *chiptest.Reader
	op     *operator
}

func newDeskRig(t *testing.T, waitSeconds int) *deskRig {
	t.Helper()
	eve := ipptest.StartEve(t, ipptest.EveOptions{})
	r := newRig(t)
	toml := fmt.Sprintf("station_id = \"ST-T\"\nstorage_dir = %q\n[[central.issuer_key]]\nid = \"k1\"\nfile = \"issuer.pub\"\n[engine]\nmax_attempts = 3\nchip_timeout_seconds = 5\ndesk_wait_seconds = %d\n"+
		"[[printer]]\nname = \"d1\"\ntransport = \"ipp\"\nuri = %q\nencoder = \"desk\"\nencoder_reader = \"desk\"\n", r.dir, waitSeconds, eve.URI)
	cfg, err := config.Parse(filepath.Join(r.dir, "s.toml"), []byte(toml))
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	d := &deskRig{rig: r, eve: eve, reader: chiptest.NewReader()}
	r.partsFn = func(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Parts, error) {
		drv, err := printer.Open(ctx, "ipp", eve.URI, printer.Options{Name: "d1", Timeouts: printer.Timeouts{Print: 20 * time.Second}})
		if err != nil {
			return nil, err
		}
		drv.(*ipp.Driver).SetPoll(20 * time.Millisecond)
		return &Parts{Printers: map[string]Printer{"d1": drv}, Encoders: map[string]Encoder{"d1": d.reader.Encoder()}, Close: func() { drv.Close() }}, nil
	}
	return d
}

// start opens the engine, adds n jobs, loads the desk printer and starts
// the batch.
func (d *deskRig) start(n int) []string {
	d.t.Helper()
	e := d.open()
	ids := d.addJobs("B1", n)
	d.stock("d1")
	if err := e.SetBatch(context.Background(), "B1", "start", "op"); err != nil {
		d.t.Fatal(err)
	}
	return ids
}

// operator plays the person at the desk: a fresh blank when asked, the
// card off the reader for the printer, the printed card tapped back.
type operator struct {
	mu      sync.Mutex
	n       int                       // blanks taken from the stack
	cards   map[string]*chiptest.Card // UID → card
	placed  []string                  // UIDs of blanks placed on the reader
	lastUID string                    // the card last taken to the printer
	tapBack func(op *operator, uid string) *chiptest.Card
	reuse   *chiptest.Card // placed at the next "place a blank" instead of a fresh one
	keep    bool           // never takes the written card to the printer
	stop    chan struct{}
	done    chan struct{}
}

// blanks numbers blank cards across operators, so every blank has its
// own UID as in a real stack.
var blanks atomic.Int32

func (o *operator) blank() *chiptest.Card {
	o.n++
	n := blanks.Add(1)
	uid := []byte{0x04, 0xDE, 0x5C, byte(n >> 8), byte(n)}
	c := chiptest.NewCard(chiptest.Config{UID: uid, Applications: [][]byte{blankAID}})
	o.cards[fmt.Sprintf("%X", uid)] = c
	o.placed = append(o.placed, fmt.Sprintf("%X", uid))
	return c
}

// run follows the desk step of engine e until stopped.
func (d *deskRig) operate(tapBack func(op *operator, uid string) *chiptest.Card) *operator {
	o := &operator{cards: map[string]*chiptest.Card{}, tapBack: tapBack, stop: make(chan struct{}), done: make(chan struct{})}
	if o.tapBack == nil {
		o.tapBack = func(op *operator, uid string) *chiptest.Card { return op.cards[uid] }
	}
	d.op = o
	go func() {
		defer close(o.done)
		tapped := ""
		for {
			select {
			case <-o.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			v, _ := d.eng.Desk("d1")
			o.mu.Lock()
			switch deskStep(v.Step) {
			case deskPlaceBlank:
				if d.reader.Card() == nil {
					if o.reuse != nil {
						d.reader.Insert(o.reuse)
						o.reuse = nil
					} else {
						d.reader.Insert(o.blank())
					}
				}
				tapped = ""
			case deskToFeed:
				if d.reader.Card() != nil && !o.keep {
					o.lastUID = v.UID
					d.reader.Remove()
				}
			case deskTapBack:
				if d.reader.Card() == nil && tapped != v.Job+v.Message {
					if c := o.tapBack(o, v.UID); c != nil {
						d.reader.Insert(c)
					}
					tapped = v.Job + v.Message
				}
			case deskPutAside:
				d.reader.Remove()
			}
			o.mu.Unlock()
		}
	}()
	d.t.Cleanup(o.halt)
	return o
}

func (o *operator) halt() {
	select {
	case <-o.stop:
	default:
		close(o.stop)
	}
	<-o.done
}

// ledgerUIDs lists ledger events (kind, job, uid, reason).
func (d *deskRig) ledgerEvents() []inventory.Event {
	rows, err := d.eng.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		d.t.Fatal(err)
	}
	defer rows.Close()
	var out []inventory.Event
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		e, err := inventory.ParseEntry(b)
		if err != nil {
			d.t.Fatal(err)
		}
		if e.Kind == inventory.Consumed || e.Kind == inventory.Spoiled {
			out = append(out, e.Event)
		}
	}
	return out
}

// checkBooks: no job has two cards, and every blank the operator placed
// on the reader (and so was written) is in the ledger or waits for a
// person.
func (d *deskRig) checkBooks() (consumed map[string]string, spoiled map[string]string) {
	d.t.Helper()
	consumed, spoiled = map[string]string{}, map[string]string{}
	byUID := map[string]bool{}
	for _, e := range d.ledgerEvents() {
		switch e.Kind {
		case inventory.Consumed:
			if _, dup := consumed[e.Job]; dup {
				d.t.Fatalf("job %s has two consumed cards", e.Job)
			}
			consumed[e.Job] = e.UID
		case inventory.Spoiled:
			spoiled[e.UID] = e.Reason
		}
		if byUID[e.UID] {
			d.t.Fatalf("card %s is in the ledger twice", e.UID)
		}
		byUID[e.UID] = true
	}
	d.op.mu.Lock()
	defer d.op.mu.Unlock()
	for _, uid := range d.op.placed {
		if byUID[uid] {
			continue
		}
		// Not in the ledger yet: only while it waits for a person.
		var res string
		d.eng.db.QueryRow(`SELECT resolution FROM station_intents WHERE uid=? AND resolution='uncertain'`, uid).Scan(&res)
		if res != "uncertain" {
			d.t.Errorf("blank %s was placed on the desk reader and written, but is neither in the ledger nor waiting for a person", uid)
		}
	}
	return consumed, spoiled
}

func TestDeskBatch(t *testing.T) {
	d := newDeskRig(t, 10)
	ids := d.start(3)
	d.operate(nil)
	d.runUntil(d.allIn(ids, jobqueue.Printed))
	consumed, spoiled := d.checkBooks()
	if len(consumed) != 3 || len(spoiled) != 0 {
		t.Fatalf("consumed %v spoiled %v", consumed, spoiled)
	}
	// Each job's card is the one its chip was written on, and the printer
	// received one face per job.
	for _, id := range ids {
		c := d.op.cards[consumed[id]]
		if c == nil || c.Writes() == 0 {
			t.Errorf("job %s consumed card %s, which was not written", id, consumed[id])
		}
	}
	if n := len(d.eve.Documents()); n != 3 {
		t.Fatalf("printer received %d faces for 3 jobs", n)
	}
}

// The operator taps back a fresh blank instead of the printed card: the
// card is not counted as the job's; after the wait a person decides, and
// their spoil records the written card with reason wrong_chip.
func TestDeskWrongCardTappedBack(t *testing.T) {
	d := newDeskRig(t, 2)
	ids := d.start(1)
	d.operate(func(op *operator, uid string) *chiptest.Card {
		c := chiptest.NewCard(chiptest.Config{UID: []byte{0x04, 0x99, 0x99, 0x99}, Applications: [][]byte{blankAID}})
		return c
	})
	d.runUntil(d.allIn(ids, jobqueue.Uncertain))
	consumed, _ := d.checkBooks()
	if len(consumed) != 0 {
		t.Fatalf("a card was counted for the job though the wrong card was tapped back: %v", consumed)
	}
	as, _ := d.eng.AttentionList(context.Background())
	if len(as) != 1 || !strings.Contains(as[0].Reason, "other card(s) were tapped back") || strings.Contains(as[0].Reason, "04999999") {
		t.Fatalf("attention %+v: want the wrong card said, without its UID (not personal data in reasons)", as)
	}
	// The UID of the wrong card is on record.
	var wrong string
	d.eng.db.QueryRow(`SELECT wrong_uids FROM station_desk`).Scan(&wrong)
	if wrong != "04999999" {
		t.Fatalf("wrong card on record: %q", wrong)
	}
	// Confirming with the wrong card is refused; spoiling records the
	// written card with its UID.
	d.reader.Insert(chiptest.NewCard(chiptest.Config{UID: []byte{0x04, 0x99, 0x99, 0x99}, Applications: [][]byte{blankAID}}))
	if _, err := d.eng.Confirm(context.Background(), ids[0], "supervisor"); err == nil {
		t.Fatal("confirm accepted a card that is not the job's")
	}
	d.reader.Remove()
	if err := d.eng.Spoil(context.Background(), ids[0], "supervisor"); err != nil {
		t.Fatal(err)
	}
	_, spoiled := d.checkBooks()
	if spoiled[d.op.placed[0]] != inventory.ReasonWrongChip {
		t.Fatalf("spoiled %v, want %s as %s", spoiled, d.op.placed[0], inventory.ReasonWrongChip)
	}
}

// The printed card never comes back to the reader: it waits for a person;
// the right card tapped then is confirmed.
func TestDeskNeverTappedBack(t *testing.T) {
	d := newDeskRig(t, 2)
	ids := d.start(1)
	d.operate(func(*operator, string) *chiptest.Card { return nil })
	d.runUntil(d.allIn(ids, jobqueue.Uncertain))
	if consumed, _ := d.checkBooks(); len(consumed) != 0 {
		t.Fatalf("counted without a tap back: %v", consumed)
	}
	uid := d.op.placed[0]
	d.reader.Insert(d.op.cards[uid])
	got, err := d.eng.Confirm(context.Background(), ids[0], "supervisor")
	if err != nil || got != uid {
		t.Fatalf("confirm: %q %v, want %s", got, err, uid)
	}
	consumed, _ := d.checkBooks()
	if consumed[ids[0]] != uid {
		t.Fatalf("consumed %v", consumed)
	}
}

// A crash at every durable step of the desk flow, the engine reopened on
// the same database: a card whose face was never printed is spoiled with
// its UID by the station; a card that may have been printed waits for a
// person. No job gets two cards; every written blank is in the ledger.
func TestDeskCrashAtEveryStep(t *testing.T) {
	for _, tc := range []struct {
		step      string
		uncertain bool   // waits for a person after the restart
		reason    string // else: spoiled with this reason
	}{
		{"writing", false, inventory.ReasonDeskNotPrinted},
		{"written", false, inventory.ReasonDeskNotPrinted},
		{"printing", true, ""},
		{"submitted", true, ""},
		{"printed", true, ""},
	} {
		t.Run(tc.step, func(t *testing.T) {
			d := newDeskRig(t, 5)
			ids := d.start(1)
			op := d.operate(nil)
			crashed := make(chan struct{})
			var once sync.Once
			d.eng.deskCrash = func(step string) bool {
				if step != tc.step {
					return false
				}
				once.Do(func() { close(crashed) })
				return true
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.eng.Run(ctx) }()
			select {
			case <-crashed:
			case <-time.After(20 * time.Second):
				t.Fatalf("never reached step %s", tc.step)
			}
			// The "dead" engine: stopped at once, nothing more written by
			// its card flow.
			d.eng.Drain()
			cancel()
			<-done
			op.halt()
			d.reader.Remove()

			e := d.open() // restart: recovery runs here
			st := d.states(ids)[ids[0]]
			if tc.uncertain {
				if st != jobqueue.Uncertain {
					t.Fatalf("after a crash at %s the job is %s, want uncertain", tc.step, st)
				}
				// A person spoils it; the card is recorded with its UID.
				if err := e.Spoil(context.Background(), ids[0], "supervisor"); err != nil {
					t.Fatal(err)
				}
			} else if st != jobqueue.Queued {
				t.Fatalf("after a crash at %s the job is %s, want queued again", tc.step, st)
			}
			_, spoiled := d.checkBooks()
			uid := op.placed[0]
			if r, ok := spoiled[uid]; !ok || (tc.reason != "" && r != tc.reason) {
				t.Fatalf("spoiled %v: want card %s spoiled (%s)", spoiled, uid, tc.reason)
			}
			// The station goes on and prints the job once.
			d.operate(nil)
			d.runUntil(d.allIn(ids, jobqueue.Printed))
			consumed, _ := d.checkBooks()
			if len(consumed) != 1 || consumed[ids[0]] == uid {
				t.Fatalf("consumed %v after the crash at %s", consumed, tc.step)
			}
		})
	}
}

// A blank whose UID the station has already counted (here the card just
// issued, put back on the reader) is refused before anything is written.
func TestDeskRefusesACountedCard(t *testing.T) {
	d := newDeskRig(t, 10)
	ids := d.start(2)
	events, unsub := d.eng.hub.subscribe()
	defer unsub()
	var first *chiptest.Card
	d.operate(func(op *operator, uid string) *chiptest.Card {
		if first == nil {
			first = op.cards[uid]
			op.reuse = first
		}
		return op.cards[uid]
	})
	d.runUntil(d.allIn(ids, jobqueue.Printed))
	refused := false
	for len(events) > 0 {
		ev := <-events
		if ev.Type == "desk_card_refused" && strings.Contains(ev.Message, "already counted") {
			refused = true
		}
	}
	if !refused {
		t.Fatal("the issued card was not refused as a blank")
	}
	consumed, _ := d.checkBooks()
	if len(consumed) != 2 || consumed[ids[0]] == consumed[ids[1]] {
		t.Fatalf("consumed %v", consumed)
	}
}

// A blank written at the desk but never taken to the printer is spoiled
// with its UID (desk_not_printed), nothing is sent to the queue, and the
// printer waits for a person.
func TestDeskWrittenNeverPrinted(t *testing.T) {
	d := newDeskRig(t, 1)
	ids := d.start(1)
	op := d.operate(nil)
	op.mu.Lock()
	op.keep = true
	op.mu.Unlock()
	// Until the card is spoiled and the printer waits for a person.
	d.runUntil(func() bool {
		return len(d.ledgerEvents()) == 1 && d.eng.byName["d1"].snapshot().State == "paused"
	})
	_, spoiled := d.checkBooks()
	if spoiled[op.placed[0]] != inventory.ReasonDeskNotPrinted {
		t.Fatalf("spoiled %v, want %s as %s", spoiled, op.placed[0], inventory.ReasonDeskNotPrinted)
	}
	if n := len(d.eve.Documents()); n != 0 {
		t.Fatalf("the queue received %d faces for a card that never reached it", n)
	}
	if got := d.states(ids)[ids[0]]; got != jobqueue.Queued {
		t.Fatalf("job %s, want queued for a new blank", got)
	}
}
