package station

import (
	"context"
	"strings"
	"testing"

	"printstation/inventory"
)

// A destruction names only spoiled cards that await it, each once, also
// through the local API and printstationctl stock destroy --uids (the
// ledger would take any well-formed UID): a card destroyed already, one
// never spoiled and one listed twice are refused, and nothing is recorded.
func TestDestroyNamesOnlyCardsAwaiting(t *testing.T) {
	r := newRig(t, "p1")
	e := r.open()
	r.stock("p1")
	ctx := context.Background()
	for _, uid := range []string{"04AA000000000001", "04AA000000000002"} {
		if _, err := e.ledger.Record(ctx, inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: "J-" + uid, UID: uid, Reason: inventory.ReasonPrint}); err != nil {
			t.Fatal(err)
		}
	}
	destroy := func(uids ...string) error {
		_, err := e.RecordStock(ctx, StockOp{Op: "destroy", UIDs: uids, RecordRef: "BA-1", Witnesses: []string{"sari", "ani"}, Actor: "sari"})
		return err
	}
	if err := destroy("04AA000000000001"); err != nil {
		t.Fatalf("a waiting card: %v", err)
	}
	for _, uids := range [][]string{{"04AA000000000001"}, {"04BB000000000009"}, {"04AA000000000002", "04aa000000000002"}} {
		if err := destroy(uids...); err == nil || !strings.Contains(err.Error(), "is not waiting for destruction") {
			t.Errorf("destroy %v: %v, want a refusal", uids, err)
		}
	}
	sp, err := inventory.SpoiledAndDestroyed(ctx, e.db)
	if err != nil {
		t.Fatal(err)
	}
	if len(sp.Destructions) != 1 || sp.Count != 1 {
		t.Errorf("after the refusals: %d destructions, %d waiting; want 1 and 1", len(sp.Destructions), sp.Count)
	}
}
