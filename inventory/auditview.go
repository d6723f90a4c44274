package inventory

// Readers for the auditor's screens on the web page: the signed
// checkpoints with their cosignatures, the spoiled cards that wait for
// destruction, the destructions with the cards they name, and a page of
// events from one log. They only read (any storage.Execer: the daemon's
// database, a read-only copy, a transaction); what verify, reconcile and
// export decide stays in Verify, Summarize and ExportLog.

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"

	"printstation/storage"
)

// CheckpointRow is one signed tree size as an auditor reads it: the
// station's checkpoint and the centre's cosigned copy, when it came back.
type CheckpointRow struct {
	Size int64     `json:"size"`
	At   time.Time `json:"at"`   // when the station signed it (zero: only a cosigned copy is stored)
	Root string    `json:"root"` // base64 root hash, as the note writes it
	// Cosigned says a copy carrying a signature other than the station's
	// came back from the centre; Cosigners names the signers verified with
	// the centre key given, Unverified those that could not be (no key
	// given, or another key).
	Cosigned   bool      `json:"cosigned"`
	CosignedAt time.Time `json:"cosigned_at,omitzero"`
	Cosigners  []string  `json:"cosigners,omitempty"`
	Unverified []string  `json:"unverified_cosigners,omitempty"`
	// Problem is set when the stored note cannot be read or its signature
	// does not verify with the station keys stored in the database.
	Problem string `json:"problem,omitempty"`
}

// Checkpoints lists the newest limit signed tree sizes, newest first, and
// how many there are in all. centre (may be nil) verifies the centre's
// cosignatures. The station keys are those stored in the database: the
// verdict on them is Verify's, this is the list to read beside it.
func Checkpoints(ctx context.Context, ex storage.Execer, centre note.Verifier, limit int) ([]CheckpointRow, int, error) {
	if limit <= 0 {
		limit = 100
	}
	var station string
	if err := ex.QueryRowContext(ctx, `SELECT value FROM ledger_meta WHERE key = 'station'`).Scan(&station); err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrNotALedger, err)
	}
	var keys []note.Verifier
	krows, err := ex.QueryContext(ctx, `SELECT vkey FROM ledger_keys`)
	if err != nil {
		return nil, 0, fmt.Errorf("inventory: checkpoints: read station keys: %w", err)
	}
	for krows.Next() {
		var vkey string
		if err := krows.Scan(&vkey); err != nil {
			krows.Close()
			return nil, 0, fmt.Errorf("inventory: checkpoints: read station keys: %w", err)
		}
		if v, err := note.NewVerifier(vkey); err == nil {
			keys = append(keys, v)
		}
	}
	krows.Close()
	stationKey := func(name string, hash uint32) bool {
		for _, k := range keys {
			if k.Name() == name && k.KeyHash() == hash {
				return true
			}
		}
		return false
	}
	var total int
	if err := ex.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT size FROM ledger_checkpoints UNION SELECT size FROM ledger_cosigned)`).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("inventory: checkpoints: count: %w", err)
	}
	rows := map[int64]*CheckpointRow{}
	var sizes []int64
	row := func(size int64) *CheckpointRow {
		if r := rows[size]; r != nil {
			return r
		}
		r := &CheckpointRow{Size: size}
		rows[size] = r
		sizes = append(sizes, size)
		return r
	}
	// The newest sizes of either table; both tables are small beside the
	// events (one row per checkpoint_every events).
	q := `SELECT 0, size, note, at FROM ledger_checkpoints WHERE size IN (SELECT size FROM ledger_checkpoints UNION SELECT size FROM ledger_cosigned ORDER BY size DESC LIMIT ?)
		UNION ALL SELECT 1, size, note, at FROM ledger_cosigned WHERE size IN (SELECT size FROM ledger_checkpoints UNION SELECT size FROM ledger_cosigned ORDER BY size DESC LIMIT ?)`
	rs, err := ex.QueryContext(ctx, q, limit, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("inventory: checkpoints: read: %w", err)
	}
	defer rs.Close()
	for rs.Next() {
		var (
			cos  int
			size int64
			msg  []byte
			at   string
		)
		if err := rs.Scan(&cos, &size, &msg, &at); err != nil {
			return nil, 0, fmt.Errorf("inventory: checkpoints: read: %w", err)
		}
		r := row(size)
		t, _ := time.Parse(timeFormat, at)
		vs := append([]note.Verifier{}, keys...)
		if centre != nil {
			vs = append(vs, centre)
		}
		n, err := note.Open(msg, note.VerifierList(vs...))
		if err != nil {
			r.Problem = fmt.Sprintf("the note at size %d does not verify with the station key: %v", size, err)
			continue
		}
		if _, tree, err := ParseCheckpoint([]byte(n.Text)); err != nil {
			r.Problem = err.Error()
		} else if r.Root == "" {
			r.Root = tree.Hash.String()
		}
		if cos == 0 {
			r.At = t
			continue
		}
		for _, s := range n.Sigs {
			if !stationKey(s.Name, s.Hash) {
				r.Cosigned = true
				r.Cosigners = appendOnce(r.Cosigners, s.Name)
			}
		}
		for _, s := range n.UnverifiedSigs {
			r.Cosigned = true
			r.Unverified = appendOnce(r.Unverified, s.Name)
		}
		if r.Cosigned && (r.CosignedAt.IsZero() || t.Before(r.CosignedAt)) {
			r.CosignedAt = t
		}
	}
	if err := rs.Err(); err != nil {
		return nil, 0, fmt.Errorf("inventory: checkpoints: read: %w", err)
	}
	sort.Slice(sizes, func(i, j int) bool { return sizes[i] > sizes[j] })
	out := make([]CheckpointRow, 0, len(sizes))
	for _, s := range sizes {
		out = append(out, *rows[s])
	}
	return out, total, nil
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// SpoiledCard is one spoiled blank as the ledger recorded it.
type SpoiledCard struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	UID     string    `json:"uid"` // hex, or UIDUnknown
	Reason  string    `json:"reason"`
	Printer string    `json:"printer,omitempty"`
	Job     string    `json:"job,omitempty"`
	Actor   string    `json:"actor"`
}

// Destruction is one destroyed event with the cards it names: each UID
// with the cause it was spoiled for (Reason empty when the ledger holds no
// spoiled card with that UID before the destruction).
type Destruction struct {
	Seq       int64         `json:"seq"`
	At        time.Time     `json:"at"`
	Actor     string        `json:"actor"`
	Witnesses []string      `json:"witnesses"`
	RecordRef string        `json:"record_ref"`
	Quantity  int64         `json:"quantity"`
	Cards     []SpoiledCard `json:"cards"`
	// Unlisted is how many of Quantity were destroyed by count alone, with
	// no UID: which cards they were, the ledger does not say.
	Unlisted int64 `json:"unlisted"`
}

// Spoilage is the spoiled cards' story: the ones still waiting for
// destruction and every destruction. Update carries it on from where it
// stopped, so a screen that shows it on every view reads only the events
// added since (the first replay reads every event).
type Spoilage struct {
	// Awaiting are the spoiled cards no destruction named by UID, oldest
	// first. Destructions by count alone (ByCount) took some of them, the
	// ledger does not say which: then Awaiting lists more cards than
	// Count, and the page says so.
	Awaiting []SpoiledCard `json:"awaiting"`
	// Count is the ledger's own figure: spoiled minus destroyed.
	Count        int64         `json:"count"`
	ByCount      int64         `json:"destroyed_by_count"`
	Destructions []Destruction `json:"destructions"`

	next     int64  // the seq after the last event read
	lastLeaf []byte // the bytes of event next-1, to notice a replaced database
}

// SpoiledAndDestroyed replays the spoiled and destroyed events.
func SpoiledAndDestroyed(ctx context.Context, ex storage.Execer) (*Spoilage, error) {
	sp := &Spoilage{}
	if err := sp.Update(ctx, ex); err != nil {
		return nil, err
	}
	return sp, nil
}

// Update reads the events added since the last call (all of them the
// first time). A database whose events before that point differ from
// what was read (restored, replaced) is replayed from the start.
func (sp *Spoilage) Update(ctx context.Context, ex storage.Execer) error {
	if sp.next > 0 {
		var data []byte
		err := ex.QueryRowContext(ctx, `SELECT data FROM ledger_events WHERE seq = ?`, sp.next-1).Scan(&data)
		if err != nil || !bytes.Equal(data, sp.lastLeaf) {
			*sp = Spoilage{}
		}
	}
	if sp.Awaiting == nil {
		sp.Awaiting, sp.Destructions = []SpoiledCard{}, []Destruction{}
	}
	var last int64 = -1
	if err := ex.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), -1) FROM ledger_events`).Scan(&last); err != nil {
		return fmt.Errorf("inventory: spoiled cards: %w", err)
	}
	if last < sp.next {
		return nil
	}
	rows, err := ex.QueryContext(ctx, `SELECT seq, kind, data FROM ledger_events WHERE seq >= ? AND seq <= ? AND kind IN (?, ?) ORDER BY seq`,
		sp.next, last, string(Spoiled), string(Destroyed))
	if err != nil {
		return fmt.Errorf("inventory: spoiled cards: read events: %w", err)
	}
	defer rows.Close()
	// The cards still waiting, in seq order; nil once destroyed by UID.
	waiting := make([]*SpoiledCard, 0, len(sp.Awaiting))
	byUID := map[string][]int{}
	add := func(c SpoiledCard) {
		byUID[c.UID] = append(byUID[c.UID], len(waiting))
		waiting = append(waiting, &c)
	}
	for _, c := range sp.Awaiting {
		add(c)
	}
	for rows.Next() {
		var seq int64
		var kind string
		var data []byte
		if err := rows.Scan(&seq, &kind, &data); err != nil {
			return fmt.Errorf("inventory: spoiled cards: read event: %w", err)
		}
		e, err := parseEntry(data, false)
		if err != nil {
			return fmt.Errorf("inventory: spoiled cards: event seq %d: %w (run audit verify)", seq, err)
		}
		switch e.Kind {
		case Spoiled:
			c := SpoiledCard{Seq: seq, At: e.At, UID: e.UID, Reason: e.Reason, Printer: e.Printer, Job: e.Job, Actor: e.Actor}
			if c.UID == "" {
				c.UID = UIDUnknown
			}
			add(c)
			sp.Count++
		case Destroyed:
			d := Destruction{Seq: seq, At: e.At, Actor: e.Actor, Witnesses: e.Witnesses, RecordRef: e.RecordRef, Quantity: e.Quantity, Cards: []SpoiledCard{}}
			for _, u := range e.UIDs {
				card := SpoiledCard{UID: u}
				// The oldest waiting card with this UID is the one destroyed.
				for i, idx := range byUID[u] {
					if waiting[idx] != nil {
						card = *waiting[idx]
						waiting[idx] = nil
						byUID[u] = byUID[u][i+1:]
						break
					}
				}
				d.Cards = append(d.Cards, card)
			}
			d.Unlisted = e.Quantity - int64(len(e.UIDs))
			sp.ByCount += d.Unlisted
			sp.Count -= e.Quantity
			sp.Destructions = append(sp.Destructions, d)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inventory: spoiled cards: read events: %w", err)
	}
	sp.Awaiting = sp.Awaiting[:0]
	for _, c := range waiting {
		if c != nil {
			sp.Awaiting = append(sp.Awaiting, *c)
		}
	}
	if err := ex.QueryRowContext(ctx, `SELECT data FROM ledger_events WHERE seq = ?`, last).Scan(&sp.lastLeaf); err != nil {
		return fmt.Errorf("inventory: spoiled cards: %w", err)
	}
	sp.next = last + 1
	return nil
}

// Clone copies the story, for a reader that changes what it got (the
// carried-on state stays with the original).
func (sp *Spoilage) Clone() *Spoilage {
	c := &Spoilage{Count: sp.Count, ByCount: sp.ByCount,
		Awaiting: append([]SpoiledCard{}, sp.Awaiting...), Destructions: append([]Destruction{}, sp.Destructions...)}
	return c
}

// MaxEventsPage bounds one page of Events.
const MaxEventsPage = 1000

// Events reads the events of one log (LogBlanks or LogPeople) with
// from <= at < to (zero times: unbounded), oldest first, at most limit
// (at most MaxEventsPage); more says there were more.
func Events(ctx context.Context, ex storage.Execer, log string, from, to time.Time, limit int) (recs []ExportRecord, more bool, err error) {
	if limit <= 0 || limit > MaxEventsPage {
		limit = MaxEventsPage
	}
	q, args, err := logQuery(log, from, to)
	if err != nil {
		return nil, false, fmt.Errorf("inventory: events: %w", err)
	}
	rows, err := ex.QueryContext(ctx, q+` ORDER BY seq LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, false, fmt.Errorf("inventory: events: read: %w", err)
	}
	defer rows.Close()
	recs = []ExportRecord{}
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return nil, false, fmt.Errorf("inventory: events: read: %w", err)
		}
		if len(recs) == limit {
			more = true
			break
		}
		e, err := parseEntry(data, false)
		if err != nil {
			return nil, false, fmt.Errorf("inventory: events: event seq %d: %w (run audit verify)", seq, err)
		}
		recs = append(recs, ExportRecord{Seq: e.Seq, At: e.At, Station: e.Station, Event: e.Event})
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("inventory: events: read: %w", err)
	}
	return recs, more, nil
}
