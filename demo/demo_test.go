package demo

import (
	"context"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The demo a new user runs: every job printed on two printers, the ledger
// verified, the cards' PNGs, the database and the journals where the
// summary says they are.
func TestDemoRunsToReconciliation(t *testing.T) {
	out := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Options{Jobs: 6, Printers: 2, Speed: 1000, Out: out, ExitWhenDone: true, Chip: "soft", Log: io.Discard, Web: ""}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Printed != 6 || sum.WaitingPerson != 0 || sum.BlanksConsumed != 6 || !sum.LedgerVerified {
		t.Fatalf("summary %+v", sum)
	}
	pngs, _ := filepath.Glob(filepath.Join(out, "printers", "*", "card-*-front.png"))
	if len(pngs) != 6 {
		t.Fatalf("%d card images, want 6", len(pngs))
	}
	f, err := os.Open(pngs[0])
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil || img.Bounds().Dx() != 1016 || img.Bounds().Dy() != 648 {
		t.Fatalf("card image: %v %v", err, img.Bounds())
	}
	for _, k := range []string{"database", "journal_p1", "journal_p2"} {
		if _, err := os.Stat(sum.Files[k]); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}
