package inventory

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// An attacker who rewrites a row and then recomputes every stored tree hash
// leaves a self-consistent table; only the signed checkpoints still tell.
func TestVerifyCatchesRecomputedTree(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 4 })
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 20, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 20})
	for i := 0; i < 8; i++ {
		f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J" + string(rune('a'+i)), UID: "04AABBCCDD"})
	}
	for _, q := range []string{`DROP TRIGGER ledger_events_no_update`, `DROP TRIGGER ledger_hashes_no_delete`,
		`UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"job":"Jf"', '"job":"Jz"') AS BLOB), job = 'Jz' WHERE seq = 7`,
		`DELETE FROM ledger_hashes`} {
		if _, err := f.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	rows, err := f.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var all [][]byte
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		all = append(all, d)
	}
	rows.Close()
	var hashes []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	for i, d := range all {
		hs, err := tlog.StoredHashes(int64(i), d, r)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hs...)
	}
	for i, h := range hashes {
		if _, err := f.db.Exec(`INSERT INTO ledger_hashes(idx, hash) VALUES(?, ?)`, i, h[:]); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := Verify(ctx, f.db, VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, p.String())
	}
	want := "event seq 4: checkpoint at size 8 does not match the events: an event between seq 4 and 7 was changed"
	if rep.OK() || !strings.HasPrefix(got[0], want) {
		t.Errorf("problems %q, want first %q", got, want)
	}
}

func TestForecastAndStockReport(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LowStock = 30 })
	ctx := context.Background()
	day := func(d, h int) time.Time { return time.Date(2026, 3, d, h, 0, 0, 0, time.UTC) }
	at := day(1, 8)
	f.l.opt.Now = func() time.Time { return at }
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 100, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 100})
	// 14 days × 4 cards, then a day of 10 cards and a jam.
	n := 0
	for d := 1; d <= 14; d++ {
		for k := 0; k < 4; k++ {
			at = day(d, 9+k)
			f.record(t, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J" + strconv.Itoa(n), UID: "04AABBCC"})
			n++
		}
	}
	at = day(15, 9)
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J" + strconv.Itoa(n), Reason: ReasonJam})
	at = day(15, 10)
	fc, err := f.l.Forecast(ctx, 14)
	if err != nil {
		t.Fatal(err)
	}
	// Window [1 Mar 10:00, 15 Mar 10:00): 56 − 1 (1 Mar 09:00) + 1 spoiled = 56 → 4 a day, 43 left.
	if fc.Used != 56 || fc.PerDay != 4 || fc.Available != 43 || fc.DaysLeft != 10.8 || fc.LowStock {
		t.Errorf("forecast %+v", fc)
	}
	b, err := f.l.StockReport(ctx, day(15, 12))
	if err != nil {
		t.Fatal(err)
	}
	var rep StockReport
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Day != "2026-03-15" || rep.Station != "jkt01" || rep.Period.Spoiled[ReasonJam] != 1 || rep.Period.Consumed != 0 ||
		rep.Period.Printers[0].Opening != 44 || rep.Period.Printers[0].Closing != 43 {
		t.Errorf("report %s", b)
	}
	b, err = f.l.StockReport(ctx, day(3, 0))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(b, &rep)
	if rep.Period.Consumed != 4 || rep.Period.Closing.Available != 88 || rep.Forecast.Available != 88 {
		t.Errorf("report for 3 March %s", b)
	}
}
