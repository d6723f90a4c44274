package inventory

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Texts that exercise every escape encoding/json writes.
var oddTexts = []string{"", "a", "p1", `quo"te`, `back\slash`, "tab\there", "nl\nx", "cr\rx", "\b\f", "\x00\x01\x1f\x7f",
	"<html>&amp;", "é ü 日本", "\u2028\u2029", "\ufffd", "bad\xffutf8", "\xe2\x80", "emoji 😀"}

func randomEvent(r *rand.Rand) Event {
	pick := func() string { return oddTexts[r.IntN(len(oddTexts))] }
	list := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(3))
		for i := range out {
			out[i] = pick()
		}
		return out
	}
	kinds := []Kind{Received, Loaded, Unloaded, Consumed, Spoiled, TestCard, Destroyed, Adjusted, ShiftClosed, CounterReading, Enrolled, Kind(pick())}
	num := func() int64 {
		return []int64{0, 0, 1, -1, 40, 1 << 40, -1 << 62}[r.IntN(7)]
	}
	e := Event{Kind: kinds[r.IntN(len(kinds))], Actor: pick(), Printer: pick(), Quantity: num(), DeliveryRef: pick(),
		SerialFirst: pick(), SerialLast: pick(), Job: pick(), UID: pick(), Reason: pick(), UIDs: list(), Witnesses: list(),
		RecordRef: pick(), Approvers: list(), Location: pick(), CardsInserted: num(), Epoch: num(), PrevSize: num(),
		PrevRoot: pick(), Action: pick(), Subject: pick(), Via: pick(), Roles: list()}
	if r.IntN(2) == 0 {
		e.Counted = map[string]int64{}
		for range r.IntN(4) {
			e.Counted[pick()] = num()
		}
	}
	return e
}

// The fast encoder writes exactly encodeEntry's bytes.
func TestAppendWireIsEncodeEntry(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		e := Entry{Seq: int64(i) * 7919, Station: oddTexts[i%len(oddTexts)], At: time.Unix(int64(r.Uint32()), int64(r.IntN(1e9))), Event: randomEvent(r)}
		want, err := encodeEntry(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendWire(nil, e.Station, e.Seq, formatTime(e.At), &e.Event); !bytes.Equal(got, want) {
			t.Fatalf("event %+v:\nfast    %q\nencoder %q", e, got, want)
		}
	}
}

// Bytes the fast parser accepts are exactly those ParseEntry accepts, and
// both read the same entry from them.
func FuzzFastEntry(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 300 {
		e := Entry{Seq: int64(i), Station: "jkt01", At: time.Date(2026, 3, 2, 8, 0, i, 0, time.UTC), Event: randomEvent(r)}
		b, err := encodeEntry(e)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(bytes.Replace(b, []byte(`"v":1,`), []byte(`"v":1, `), 1))
		f.Add(bytes.Replace(b, []byte(`"at":"2026`), []byte(`"at":"2025`), 1))
	}
	for _, s := range []string{`{"v":1}`, `{"v":1,"station":"x","seq":-0,"at":"2026-02-29T08:00:00.000000000Z","kind":"received","actor":"a"}`,
		`{"v":1,"station":"x","seq":1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"\ud83d\ude00"}`,
		`{"v":1,"station":"x","seq":1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"\u0041"}`,
		`{"v":1,"station":"x","seq":1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"a","counted":{"b":1,"a":2}}`,
		`{"v":1,"station":"x","seq":1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"a","uids":[]}`,
		`{"v":1,"station":"x","seq":1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"a","actor":"a"}`,
		`{"v":1,"station":"x","seq":99999999999999999999,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"a"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var st fastState
		fe, ok := parseFast(data, &st)
		e, err := ParseEntry(data)
		if ok != (err == nil) {
			t.Fatalf("fast path accepts: %v, ParseEntry: %v, for %q", ok, err, data)
		}
		if !ok {
			return
		}
		if fe.Seq != e.Seq || fe.Station != e.Station || fe.At != formatTime(e.At) || !reflect.DeepEqual(fe.Event, e.Event) {
			t.Fatalf("fast path read %+v, ParseEntry %+v", fe, e)
		}
	})
}

// validAt agrees with time.Parse and formatTime.
func TestValidAtIsTimeParse(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	base := []byte("2024-02-29T23:59:59.123456789Z")
	alphabet := []byte("0123456789-T:.Z x")
	check := func(s string) {
		tm, err := time.Parse(timeFormat, s)
		want := err == nil && formatTime(tm) == s
		if got := validAt(s); got != want {
			t.Fatalf("validAt(%q) = %v, time.Parse says %v (%v)", s, got, want, err)
		}
	}
	for range 200000 {
		b := append([]byte(nil), base...)
		for range 1 + r.IntN(3) {
			b[r.IntN(len(b))] = alphabet[r.IntN(len(alphabet))]
		}
		check(string(b))
	}
	for y := 1899; y <= 2101; y++ {
		for m := 0; m <= 13; m++ {
			for d := 0; d <= 32; d++ {
				check(fmt.Sprintf("%04d-%02d-%02dT00:00:00.000000000Z", y, m, d))
			}
		}
	}
	for _, s := range []string{"0000-01-01T00:00:00.000000000Z", "9999-12-31T23:59:59.999999999Z", "2026-03-02T24:00:00.000000000Z",
		"2026-03-02T08:60:00.000000000Z", "2026-03-02T08:00:60.000000000Z", "2026-03-02T08:00:00.000000000z", ""} {
		check(s)
	}
}

func TestEventEqualIsDeepEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 50000 {
		a := randomEvent(r)
		b := a
		if r.IntN(2) == 0 {
			b = randomEvent(r)
			// Often differ in one field only.
			va, vb := reflect.ValueOf(&a).Elem(), reflect.ValueOf(&b).Elem()
			for i := 0; i < va.NumField(); i++ {
				if r.IntN(va.NumField()) != 0 {
					vb.Field(i).Set(va.Field(i))
				}
			}
		}
		if got, want := eventEqual(&a, &b), reflect.DeepEqual(a, b); got != want {
			t.Fatalf("eventEqual = %v, DeepEqual = %v:\n%+v\n%+v", got, want, a, b)
		}
	}
}

// move either does what apply does or leaves the event to apply.
func TestMoveIsApply(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r := rand.New(rand.NewPCG(seed, 9))
		m := &model{printers: map[string]int64{}}
		slow, fast := balances{}, balances{}
		keys := map[string]string{}
		moved := 0
		for i := range 2000 {
			e, _ := m.randomOp(r, i)
			n, err := normalize(e)
			if err != nil {
				continue
			}
			_, errSlow := slow.apply(n)
			errFast := error(nil)
			if fast.move(&n, keys) {
				moved++
			} else {
				_, errFast = fast.apply(n)
			}
			if (errSlow == nil) != (errFast == nil) || (errSlow != nil && errSlow.Error() != errFast.Error()) {
				t.Fatalf("seed %d op %d %+v: apply says %v, move+apply %v", seed, i, n, errSlow, errFast)
			}
			if !reflect.DeepEqual(slow, fast) {
				t.Fatalf("seed %d op %d %+v: balances differ:\n%v\n%v", seed, i, n, slow, fast)
			}
		}
		if moved < 500 {
			t.Fatalf("seed %d: only %d events took the fast path", seed, moved)
		}
	}
}

func TestTreeIsTlogStoredHashes(t *testing.T) {
	var want, got []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	})
	for n := int64(0); n < 1100; n++ {
		leaf := []byte(fmt.Sprint("event ", n))
		hs, err := tlog.StoredHashes(n, leaf, r)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
		got = appendTree(got, n, tlog.RecordHash(leaf))
		if len(got) != len(want) || !reflect.DeepEqual(got[len(got)-len(hs):], hs) {
			t.Fatalf("after leaf %d the trees differ", n)
		}
	}
}

// tamperLedger builds a small ledger, runs script on it (triggers dropped)
// and returns the database.
func tamperLedger(t *testing.T, script string) *fixture {
	t.Helper()
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 5 })
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 40, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 35})
	for i := range 34 {
		switch {
		case i%7 == 3:
			f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: fmt.Sprintf("J%02d", i), Reason: ReasonJam, UID: "04A1B2C3"})
		case i%11 == 5:
			f.record(t, Event{Kind: CounterReading, Actor: "engine", Printer: "p1", CardsInserted: int64(100 + i)})
		default:
			f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: fmt.Sprintf("J%02d", i), UID: fmt.Sprintf("04A1B2C3%02d", i)})
		}
	}
	f.record(t, Event{Kind: Destroyed, Actor: "ani", Quantity: 2, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-1"})
	if script == "" {
		return f
	}
	for _, tr := range []string{"ledger_events_no_update", "ledger_events_no_delete", "ledger_hashes_no_update",
		"ledger_hashes_no_delete", "ledger_checkpoints_no_delete", "ledger_checkpoints_no_update"} {
		if _, err := f.db.Exec(`DROP TRIGGER ` + tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range strings.Split(script, ";") {
		if strings.TrimSpace(q) == "" {
			continue
		}
		if _, err := f.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	return f
}

// Every way of tampering that verify must catch is caught, and the report
// of the fast path (fast row check, stored hashes compared only where no
// signature vouches for the rows) is the report of the general path (row
// by row through ParseEntry and apply, every stored hash compared).
func TestVerifyFastPathIsGeneralPath(t *testing.T) {
	cases := []struct{ name, script, want string }{
		{"untouched", "", ""},
		{"change a job in the bytes", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"job":"J04"', '"job":"J99"') AS BLOB) WHERE seq = 6`,
			"event seq 6: the event bytes do not match the tree hash"},
		{"change a quantity", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"quantity":40', '"quantity":45') AS BLOB) WHERE seq = 0`,
			"event seq 0: the event bytes do not match"},
		{"non-canonical bytes", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"v":1,', '"v":1, ') AS BLOB) WHERE seq = 9`,
			"event seq 9: unreadable"},
		{"delete an event", `DELETE FROM ledger_events WHERE seq = 8`, "event seq 8: missing"},
		{"reorder two events", `CREATE TEMP TABLE t AS SELECT seq, data FROM ledger_events WHERE seq IN (13, 14);
			UPDATE ledger_events SET data = (SELECT data FROM t WHERE t.seq = 27 - ledger_events.seq) WHERE seq IN (13, 14)`,
			"event seq 13: the row holds the event written as seq 14"},
		{"insert an event at the end", `INSERT INTO ledger_events(seq, at, kind, printer, job, data)
			SELECT 37, at, kind, printer, job, CAST(replace(CAST(data AS TEXT), '"seq":21', '"seq":37') AS BLOB) FROM ledger_events WHERE seq = 21`,
			"event seq 37: no tree hash was stored"},
		{"cut the tail", `DELETE FROM ledger_events WHERE seq >= 17; DELETE FROM ledger_hashes WHERE idx >= 32`,
			"checkpoint signed at size 20 but only 17 events remain"},
		{"cut the tail, hashes kept", `DELETE FROM ledger_events WHERE seq >= 31`, "tree hashes exist for events seq 31 to 36, but the rows are gone"},
		{"change the unsigned tail", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"record_ref":"BA-1"', '"record_ref":"BA-2"') AS BLOB) WHERE seq = 36`,
			"event seq 36: the event bytes do not match"},
		{"a NUL byte in the event bytes", `UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"job":"J07"', '"job":"J0' || char(0) || '7"') AS BLOB) WHERE seq = 9`,
			"event seq 9: the event bytes do not match"},
		{"change the printer column", `UPDATE ledger_events SET printer = 'p2' WHERE seq = 8`, "event seq 8: the query columns"},
		{"change the job column", `UPDATE ledger_events SET job = 'J77' WHERE seq = 8`, "event seq 8: the query columns"},
		{"change the at column", `UPDATE ledger_events SET at = '2030-01-01T00:00:00.000000000Z' WHERE seq = 8`, "event seq 8: the query columns"},
		{"change the kind column", `UPDATE ledger_events SET kind = 'spoiled' WHERE seq = 8`, "event seq 8: the query columns"},
		{"move the job into the printer column", `UPDATE ledger_events SET printer = printer || char(0) || job, job = '' WHERE seq = 8`,
			"event seq 8: the query columns"},
		{"move the printer into the job column", `UPDATE ledger_events SET job = printer || char(0) || job, printer = '' WHERE seq = 8`,
			"event seq 8: the query columns"},
		{"a frontier hash edited", `UPDATE ledger_hashes SET hash = zeroblob(32) WHERE idx = 62`, "stored tree hashes over events 0 to 31 were edited"},
		{"a frontier hash inside the window edited", `UPDATE ledger_hashes SET hash = zeroblob(32) WHERE idx = 69`, "stored tree hashes over events 32 to 35 were edited"},
		{"a leaf hash deleted in the unsigned tail", `DELETE FROM ledger_hashes WHERE idx = 70`, "event seq 36: no tree hash was stored"},
	}
	fastPath := func(on bool) { verifyFastPath = on }
	defer fastPath(true)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := tamperLedger(t, c.script)
			ctx := context.Background()
			var reps []*VerifyReport
			for _, mode := range []struct{ fast, all bool }{{true, false}, {false, true}, {true, true}, {false, false}} {
				fastPath(mode.fast)
				rep, err := Verify(ctx, f.db, VerifyOptions{AllStoredHashes: mode.all})
				if err != nil {
					t.Fatal(err)
				}
				reps = append(reps, rep)
			}
			fastPath(true)
			for i, rep := range reps[1:] {
				if !reflect.DeepEqual(rep, reps[0]) {
					t.Errorf("mode %d reports differently from the fast path:\n%+v\n%+v", i+1, rep, reps[0])
				}
			}
			rep := reps[0]
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			switch {
			case c.want == "" && !rep.OK():
				t.Errorf("untouched ledger fails: %q", got)
			case c.want != "" && !strings.Contains(strings.Join(got, "\n"), c.want):
				t.Errorf("problems %q, want one saying %q", got, c.want)
			}
		})
	}
}

// An edited stored hash below the largest verified checkpoint and off the
// tree's frontier changes nothing the ledger reads again: the default
// verify leaves it, the exhaustive one (AllStoredHashes) names it.
func TestVerifyAllStoredHashesNamesAnyEditedHash(t *testing.T) {
	// idx 2 is the hash over events 0 and 1: under the checkpoint at 35,
	// not on the frontier of 37 events (32 + 4 + 1).
	f := tamperLedger(t, `UPDATE ledger_hashes SET hash = zeroblob(32) WHERE idx = 2`)
	ctx := context.Background()
	rep, err := Verify(ctx, f.db, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("default verify: %v", rep.Problems)
	}
	rep, err = Verify(ctx, f.db, VerifyOptions{AllStoredHashes: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0].What, "stored tree hashes over events 0 to 1 were edited") {
		t.Errorf("exhaustive verify: %v", rep.Problems)
	}
}
