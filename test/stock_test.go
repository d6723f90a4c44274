package test

import (
	"path/filepath"
	"strings"
	"testing"
)

// The storekeeper's and supervisor's stock operations through the real CLI
// and daemon, and the auditor's view of them on the database file.
func TestStockOperationsThroughCLI(t *testing.T) {
	s := newE2E(t, e2eOpts{jobs: 1, batch: 1, printers: 1})
	s.startDaemon()
	s.ctl("stock", "receive", "--quantity", "100", "--ref", "DO-2026-117", "--serial-first", "A000100", "--serial-last", "A000199")
	s.ctl("stock", "load", "--printer", "p1", "--quantity", "40")

	// Dual control: one approver, or the same person twice, is refused
	// with the reason; nothing is recorded.
	out, code := ctl(t, s.sock, "stock", "adjust", "--location", "storage", "--quantity", "-2", "--approver", "ani", "--reason", "two cards found damaged in the box")
	if code == 0 || !strings.Contains(out, "approver") {
		t.Fatalf("adjustment with one approver: exit %d\n%s", code, out)
	}
	out, code = ctl(t, s.sock, "stock", "adjust", "--location", "storage", "--quantity", "-2", "--approver", "ani", "--approver", "ani", "--reason", "x")
	if code == 0 {
		t.Fatalf("adjustment by the same person twice accepted:\n%s", out)
	}
	s.ctl("stock", "adjust", "--location", "storage", "--quantity", "-2", "--approver", "ani", "--approver", "budi", "--reason", "two cards found damaged in the box")

	// Loading more than storage holds is refused.
	out, code = ctl(t, s.sock, "stock", "load", "--printer", "p1", "--quantity", "500")
	if code == 0 || !strings.Contains(strings.ToLower(out), "storage") {
		t.Fatalf("overload accepted or unclear: exit %d\n%s", code, out)
	}

	// Shift close with the counts; a mismatch is the auditor's to see.
	s.ctl("stock", "shift-close", "--counted", "storage=58,printer:p1=39", "--witness", "sari")
	show := s.ctl("stock", "show")
	if !strings.Contains(show, "storage 58") || !strings.Contains(show, "printer p1 40") {
		t.Fatalf("stock show:\n%s", show)
	}
	db := filepath.Join(s.dir, "state", "station.db")
	out, code = ctl(t, s.sock, "audit", "reconcile", "--db", db, "--from", "2000-01-01", "--to", "2100-01-01")
	if code != 1 || !strings.Contains(out, "p1") {
		t.Fatalf("reconcile should fail on the shift-close count of printer p1 (39 counted, 40 in the ledger): exit %d\n%s", code, out)
	}
	out, code = ctl(t, s.sock, "audit", "verify", "--db", db)
	if code != 0 {
		t.Fatalf("audit verify: exit %d\n%s", code, out)
	}
}
