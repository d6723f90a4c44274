package jobqueue

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"strings"
	"testing"

	"printstation/storage"
)

// TestPurgePlanReadsOnlyUnpurgedJobs: the purge's selection reads the ended
// jobs not yet purged through their partial index and looks the outbox and
// the data up by key; it never scans the job table or every acknowledged
// outbox item (each purge, about one a card, grew with the station's whole
// history that way).
func TestPurgePlanReadsOnlyUnpurgedJobs(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, pub := testIssuer()
	if _, err := Open(ctx, db, Options{StationID: "ST-T", DataKey: make([]byte, 32), IssuerKeys: map[string]ed25519.PublicKey{"k1": pub}}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{purgeReady, `SELECT EXISTS(` + purgeReady + `)`} {
		rows, err := db.QueryContext(ctx, `EXPLAIN QUERY PLAN `+q, "2026-01-01T00:00:00Z")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "SCAN j USING INDEX job_jobs_unpurged") {
			t.Errorf("the purge does not read the unpurged jobs' index:\n%s", p)
		}
		for _, l := range plan {
			if (strings.HasPrefix(l, "SCAN") && l != "SCAN j USING INDEX job_jobs_unpurged" && l != "SCAN CONSTANT ROW") || strings.Contains(l, "acked_at>") {
				t.Errorf("the purge reads more than the unpurged jobs: %q in\n%s", l, p)
			}
		}
	}
}

func testIssuer() (ed25519.PrivateKey, ed25519.PublicKey) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	return priv, priv.Public().(ed25519.PublicKey)
}
