package inventory

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The spoiled cards' story: a destruction by UID takes that card off the
// waiting list with its cause; one by count alone leaves the list longer
// than the ledger's count, and says by how much.
func TestSpoiledAndDestroyed(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 10, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: 10})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J1", UID: "04aabbccdd", Reason: ReasonChipWrite})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J2", UID: "04BBBBBBBB", Reason: ReasonJam})
	f.record(t, Event{Kind: Spoiled, Actor: "engine", Printer: "p1", Job: "J3", Reason: ReasonPrint})
	d := f.record(t, Event{Kind: Destroyed, Actor: "sari", UIDs: []string{"04AABBCCDD"}, Witnesses: []string{"sari", "budi"}, RecordRef: "BA-1"})
	f.record(t, Event{Kind: Destroyed, Actor: "sari", Quantity: 1, Witnesses: []string{"sari", "budi"}, RecordRef: "BA-2"})
	sp, err := SpoiledAndDestroyed(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Destructions) != 2 || sp.Destructions[0].Seq != d.Seq {
		t.Fatalf("destructions: %+v", sp.Destructions)
	}
	first := sp.Destructions[0]
	if len(first.Cards) != 1 || first.Cards[0].UID != "04AABBCCDD" || first.Cards[0].Reason != ReasonChipWrite || first.Cards[0].Job != "J1" || first.Unlisted != 0 {
		t.Errorf("first destruction: %+v", first)
	}
	if first.Witnesses[1] != "budi" || first.RecordRef != "BA-1" {
		t.Errorf("first destruction's record: %+v", first)
	}
	if second := sp.Destructions[1]; len(second.Cards) != 0 || second.Unlisted != 1 {
		t.Errorf("destruction by count: %+v", second)
	}
	if sp.Count != 1 || sp.ByCount != 1 || len(sp.Awaiting) != 2 || sp.Awaiting[0].UID != "04BBBBBBBB" || sp.Awaiting[1].UID != UIDUnknown {
		t.Errorf("awaiting: count %d by count %d list %+v", sp.Count, sp.ByCount, sp.Awaiting)
	}
	stock, _ := f.l.Stock(ctx)
	if stock.SpoiledAwaiting != sp.Count {
		t.Errorf("the ledger's balance says %d awaiting, the replay %d", stock.SpoiledAwaiting, sp.Count)
	}
}

func TestCheckpointsAndEvents(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.CheckpointEvery = 3 })
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 10, DeliveryRef: "D1"})
	for i := 0; i < 7; i++ {
		f.record(t, Event{Kind: SignedIn, Actor: "ani", Via: ViaWeb, Roles: []string{"operator"}})
	}
	rows, total, err := Checkpoints(ctx, f.db, nil, 2)
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(rows) != 2 || rows[0].Size != 6 || rows[1].Size != 3 || rows[0].Root == "" || rows[0].Cosigned || rows[0].At.IsZero() {
		t.Errorf("checkpoints: total %d %+v", total, rows)
	}
	rows, _, _ = Checkpoints(ctx, f.db, nil, 1)
	if len(rows) != 1 || rows[0].Size != 6 {
		t.Errorf("newest checkpoint only: %+v", rows)
	}
	recs, more, err := Events(ctx, f.db, LogPeople, time.Time{}, time.Time{}, 5)
	if err != nil || len(recs) != 5 || !more || recs[0].Kind != SignedIn {
		t.Errorf("people page: %d more=%v %v", len(recs), more, err)
	}
	recs, more, _ = Events(ctx, f.db, LogBlanks, time.Time{}, time.Time{}, 5)
	if len(recs) != 1 || more || recs[0].Kind != Received {
		t.Errorf("blanks page: %+v", recs)
	}
	if _, _, err := Events(ctx, f.db, "other", f.clock.Now(), f.clock.Now(), 5); err == nil {
		t.Errorf("an unknown log was read")
	}
}

// Update carries the story on with the events added since, and starts
// over on a database that is not the one it read.
func TestSpoilageUpdate(t *testing.T) {
	f := newFixture(t, nil)
	ctx := context.Background()
	f.record(t, Event{Kind: Received, Actor: "ani", Quantity: 10, DeliveryRef: "D1"})
	f.record(t, Event{Kind: Spoiled, Actor: "ani", Reason: ReasonDamaged, UID: "04AAAAAAAA"})
	sp, err := SpoiledAndDestroyed(ctx, f.db)
	if err != nil {
		t.Fatal(err)
	}
	f.record(t, Event{Kind: Spoiled, Actor: "ani", Reason: ReasonDamaged, UID: "04BBBBBBBB"})
	f.record(t, Event{Kind: Destroyed, Actor: "sari", UIDs: []string{"04AAAAAAAA"}, Witnesses: []string{"sari", "budi"}, RecordRef: "BA-1"})
	if err := sp.Update(ctx, f.db); err != nil {
		t.Fatal(err)
	}
	fresh, _ := SpoiledAndDestroyed(ctx, f.db)
	if fmt.Sprint(sp.Clone()) != fmt.Sprint(fresh.Clone()) || len(sp.Awaiting) != 1 || sp.Awaiting[0].UID != "04BBBBBBBB" || len(sp.Destructions) != 1 {
		t.Errorf("carried on:\n%+v\nfresh:\n%+v", sp.Clone(), fresh.Clone())
	}
	// Another database (a restored copy) with as many events or more.
	g := newFixture(t, nil)
	g.record(t, Event{Kind: Received, Actor: "ani", Quantity: 10, DeliveryRef: "D2"})
	for i := 0; i < 4; i++ {
		g.record(t, Event{Kind: Spoiled, Actor: "ani", Reason: ReasonDamaged, UID: fmt.Sprintf("04CCCCCC%02d", i)})
	}
	if err := sp.Update(ctx, g.db); err != nil {
		t.Fatal(err)
	}
	other, _ := SpoiledAndDestroyed(ctx, g.db)
	if fmt.Sprint(sp.Clone()) != fmt.Sprint(other.Clone()) || len(sp.Awaiting) != 4 || len(sp.Destructions) != 0 {
		t.Errorf("after a replaced database:\n%+v\nwant:\n%+v", sp.Clone(), other.Clone())
	}
}
