package inventory

import (
	"context"
	"testing"
	"time"

	"printstation/storage"
)

// BenchmarkSpoiledAndDestroyed1M lists the spoiled cards of the
// million-event ledger, as the auditor's screen and the destruction form
// do on every view.
func BenchmarkSpoiledAndDestroyed1M(b *testing.B) {
	path := bulkLedger(b)
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	for b.Loop() {
		sp, err := SpoiledAndDestroyed(ctx, db)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(sp.Awaiting)), "awaiting")
	}
}

// BenchmarkPeopleDay1M reads one day of the people log of the
// million-event ledger (the at index serves the period).
func BenchmarkPeopleDay1M(b *testing.B) {
	path := bulkLedger(b)
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	from := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Events(ctx, db, LogPeople, from, from.AddDate(0, 0, 1), MaxEventsPage); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpoilageUpdate1M is a view after the first: the replay carried
// on, nothing new to read.
func BenchmarkSpoilageUpdate1M(b *testing.B) {
	path := bulkLedger(b)
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	sp, err := SpoiledAndDestroyed(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := sp.Update(ctx, db); err != nil {
			b.Fatal(err)
		}
	}
}
