package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// randomLedger appends n random events (valid and refused ones, shift
// closes with right and wrong counts, counter readings that agree and
// disagree) over days of a jumping clock; back makes the clock go
// backwards now and then.
func randomLedger(t *testing.T, seed uint64, n int, back bool) (*fixture, []time.Time) {
	t.Helper()
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 50 })
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 77))
	m := &model{printers: map[string]int64{}}
	fed := map[string]int64{}
	var times []time.Time
	for i := range n {
		f.clock.mu.Lock()
		step := []time.Duration{time.Second, 7 * time.Minute, 3 * time.Hour, 26 * time.Hour}[r.IntN(4)]
		if back && r.IntN(40) == 0 {
			step = -5 * time.Hour
		}
		f.clock.t = f.clock.t.Add(step)
		f.clock.mu.Unlock()
		var e Event
		switch r.IntN(12) {
		case 0:
			s, err := f.l.Stock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			counted := map[string]int64{Storage: s.Storage + int64(r.IntN(3)/2)}
			for p, v := range s.Printers {
				counted[InPrinter(p)] = v
			}
			e = Event{Kind: ShiftClosed, Actor: "ani", Witnesses: []string{"budi"}, Counted: counted}
		case 1:
			p := []string{"p1", "p2", "p3", "p4"}[r.IntN(4)]
			e = Event{Kind: CounterReading, Actor: "engine", Printer: p, CardsInserted: 500 + fed[p] + int64(r.IntN(5)/4)}
		default:
			var ok bool
			e, ok = m.randomOp(r, i)
			if !ok {
				continue
			}
		}
		ent, err := f.l.Record(ctx, e)
		if err != nil {
			if e.Kind == ShiftClosed || e.Kind == CounterReading {
				t.Fatal(err)
			}
			continue
		}
		if e.Kind == Consumed || e.Kind == TestCard || (e.Kind == Spoiled && e.Printer != "") {
			fed[e.Printer]++
		}
		times = append(times, ent.At)
	}
	return f, times
}

func summarizeBoth(t *testing.T, f *fixture, from, to time.Time) (fast, replay string) {
	t.Helper()
	ctx := context.Background()
	enc := func(p *Period, err error) string {
		if err != nil {
			return "error: " + err.Error()
		}
		b, _ := json.Marshal(p)
		return string(b)
	}
	fast = enc(Summarize(ctx, f.db, from, to))
	summarizeFromDays = false
	defer func() { summarizeFromDays = true }()
	replay = enc(Summarize(ctx, f.db, from, to))
	return fast, replay
}

// The summary from the day totals is the summary of the full replay, for
// periods cut anywhere: at midnight in several zones, at an event's exact
// time, between events, before the first and after the last.
func TestSummarizeByDaysIsReplay(t *testing.T) {
	jakarta := time.FixedZone("WIB", 7*3600)
	india := time.FixedZone("IST", 5*3600+1800)
	for seed := uint64(1); seed <= 3; seed++ {
		f, times := randomLedger(t, seed, 400, false)
		ctx := context.Background()
		if cur, err := daysCurrent(ctx, f.db); err != nil || !cur {
			t.Fatalf("ledger_days not current after appends: %v", err)
		}
		r := rand.New(rand.NewPCG(seed, 5))
		first, last := times[0], times[len(times)-1]
		pick := func() time.Time {
			switch r.IntN(6) {
			case 0:
				return times[r.IntN(len(times))]
			case 1:
				return times[r.IntN(len(times))].Add(time.Nanosecond)
			case 2:
				tm := times[r.IntN(len(times))].In([]*time.Location{time.UTC, jakarta, india}[r.IntN(3)])
				return time.Date(tm.Year(), tm.Month(), tm.Day(), 0, 0, 0, 0, tm.Location())
			case 3:
				return first.Add(-time.Duration(r.IntN(100)) * time.Hour)
			case 4:
				return last.Add(time.Duration(r.IntN(100)) * time.Hour)
			}
			return first.Add(time.Duration(r.Int64N(int64(last.Sub(first)) + 1)))
		}
		byDays := 0
		for range 150 {
			from, to := pick(), pick()
			if to.Before(from) {
				from, to = to, from
			}
			fast, replay := summarizeBoth(t, f, from, to)
			if fast != replay {
				t.Fatalf("seed %d, %v to %v:\nby days %s\nreplay  %s", seed, from, to, fast, replay)
			}
			if _, ok, err := summarizeByDays(ctx, f.db, "jkt01", from, to); err == nil && ok {
				byDays++
			}
		}
		if byDays < 100 {
			t.Errorf("seed %d: only %d of 150 periods were summarised from the day totals", seed, byDays)
		}
		// Discrepancies must have been exercised.
		_, replay := summarizeBoth(t, f, first, last.Add(time.Second))
		if !strings.Contains(replay, "shift close by") || !strings.Contains(replay, "by its counter") {
			t.Errorf("seed %d: the random ledger shows no discrepancies to compare: %s", seed, replay)
		}
	}
}

// A clock that went backwards makes the day totals unusable for periods
// after it; the summary then replays, and still agrees.
func TestSummarizeWithClockGoingBack(t *testing.T) {
	f, times := randomLedger(t, 9, 300, true)
	ctx := context.Background()
	disordered := false
	for i := 1; i < len(times); i++ {
		disordered = disordered || times[i].Before(times[i-1])
	}
	if !disordered {
		t.Fatal("the clock never went back")
	}
	r := rand.New(rand.NewPCG(9, 9))
	for range 60 {
		from, to := times[r.IntN(len(times))], times[r.IntN(len(times))].Add(time.Minute)
		if to.Before(from) {
			from, to = to, from
		}
		if fast, replay := summarizeBoth(t, f, from, to); fast != replay {
			t.Fatalf("%v to %v:\nby days %s\nreplay  %s", from, to, fast, replay)
		}
	}
	_ = ctx
}

// A database from before ledger_days gets the table at Open, rebuilt from
// its events, equal to what appending kept.
func TestOpenRebuildsDays(t *testing.T) {
	f, _ := randomLedger(t, 4, 200, false)
	ctx := context.Background()
	read := func() string {
		rows, err := f.db.Query(`SELECT first_seq, day, last_seq, CAST(state AS TEXT), CAST(found AS TEXT) FROM ledger_days ORDER BY first_seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var first, last int64
			var day, state, found string
			if err := rows.Scan(&first, &day, &last, &state, &found); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%d %s %d %s %s\n", first, day, last, state, found)
		}
		return b.String()
	}
	kept := read()
	if strings.Count(kept, "\n") < 5 {
		t.Fatalf("too few days to compare:\n%s", kept)
	}
	if _, err := f.db.Exec(`DROP TABLE ledger_days`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, f.db, f.l.opt); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != kept {
		t.Errorf("rebuilt rows differ from the kept ones:\n%s\nkept:\n%s", got, kept)
	}
	rep, err := Verify(ctx, f.db, VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify after rebuild: %v %v", err, rep.Problems)
	}
}

// Verify recomputes the day totals: a changed row, a missing row and an
// extra row are named; a missing table is a warning (an older database).
func TestVerifyChecksDays(t *testing.T) {
	cases := []struct{ name, script, want string }{
		{"change a total", `UPDATE ledger_days SET state = CAST(replace(CAST(state AS TEXT), '"consumed":', '"consumed":1') AS BLOB) WHERE first_seq = (SELECT MAX(first_seq) FROM ledger_days)`,
			"the day totals stored for"},
		{"drop a discrepancy", `UPDATE ledger_days SET found = '[]' WHERE found != '[]'`, "the day totals stored for"},
		{"delete a day", `DELETE FROM ledger_days WHERE first_seq = (SELECT MIN(first_seq) FROM ledger_days)`, "no day totals stored for"},
		{"add a day", `INSERT INTO ledger_days SELECT first_seq + 100000, day, last_seq, state, found FROM ledger_days WHERE first_seq = (SELECT MAX(first_seq) FROM ledger_days)`,
			"day totals stored for events"},
		{"drop the table", `DROP TABLE ledger_days`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, _ := randomLedger(t, 5, 150, false)
			ctx := context.Background()
			if _, err := f.db.Exec(c.script); err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(ctx, f.db, VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range rep.Problems {
				got = append(got, p.String())
			}
			if c.want == "" {
				if !rep.OK() || !strings.Contains(strings.Join(rep.Warnings, "\n"), "no day totals") {
					t.Errorf("problems %q, warnings %q", got, rep.Warnings)
				}
				return
			}
			if rep.OK() || !strings.Contains(strings.Join(got, "\n"), c.want) {
				t.Errorf("problems %q, want one saying %q", got, c.want)
			}
		})
	}
}

// BenchmarkDayTotalsPerEvent is what keeping ledger_days adds to an
// append, without the SQL: decode the day's totals, apply the event,
// encode them again (four printers, every spoil reason seen).
func BenchmarkDayTotalsPerEvent(b *testing.B) {
	t := newTotals()
	keys := map[string]string{}
	seq := int64(0)
	add := func(e Event) {
		if _, err := t.apply(seq, "2026-03-02T08:00:00.000000000Z", &e, keys); err != nil {
			b.Fatal(err)
		}
		seq++
	}
	add(Event{Kind: Received, Actor: "ani", Quantity: 100000, DeliveryRef: "D"})
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		add(Event{Kind: Loaded, Actor: "ani", Printer: p, Quantity: 500})
		for _, r := range SpoilReasons[:8] {
			add(Event{Kind: Spoiled, Actor: "engine", Printer: p, Job: "J", Reason: r, UID: "04A1B2C3"})
		}
		add(Event{Kind: CounterReading, Actor: "engine", Printer: p, CardsInserted: 10})
	}
	row, err := encodeDay(0, t, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := Event{Kind: Consumed, Actor: "engine", Printer: "p2", Job: "JOB-1", UID: "04A1B2C3D4"}
	b.ReportMetric(float64(len(row.State)), "state-bytes")
	for b.Loop() {
		t, err := decodeTotals(row.State)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := t.apply(t.LastSeq+1, "2026-03-02T08:00:01.000000000Z", &e, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := encodeDay(0, t, nil); err != nil {
			b.Fatal(err)
		}
	}
}
