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

	// Dual control: no second person, a wrong witness secret, or the same
	// account twice is refused with the reason; nothing is recorded.
	adjust := []string{"stock", "adjust", "--location", "storage", "--quantity", "-2", "--reason", "two cards found damaged in the box"}
	out, code := s.ctlAs("ani", "", adjust...)
	if code == 0 || !strings.Contains(out, "witness") {
		t.Fatalf("adjustment by one person: exit %d\n%s", code, out)
	}
	out, code = s.ctlAs("ani", "not-sari-secret\n", append(adjust, "--witness", "sari")...)
	if code == 0 || !strings.Contains(out, "wrong name or secret") {
		t.Fatalf("adjustment with a wrong witness secret: exit %d\n%s", code, out)
	}
	out, code = s.ctlAs("ani", secretOf("ani")+"\n", append(adjust, "--witness", "ani")...)
	if code == 0 || !strings.Contains(out, "someone else") {
		t.Fatalf("adjustment by the same account twice: exit %d\n%s", code, out)
	}
	if out, code = s.ctlAs("ani", secretOf("sari")+"\n", append(adjust, "--witness", "sari")...); code != 0 {
		t.Fatalf("adjustment by ani and sari: exit %d\n%s", code, out)
	}

	// Loading more than storage holds is refused.
	out, code = s.ctlAs("ani", "", "stock", "load", "--printer", "p1", "--quantity", "500")
	if code == 0 || !strings.Contains(strings.ToLower(out), "storage") {
		t.Fatalf("overload accepted or unclear: exit %d\n%s", code, out)
	}

	// Shift close with the counts; a mismatch is the auditor's to see.
	if out, code = s.ctlAs("ani", secretOf("sari")+"\n", "stock", "shift-close", "--counted", "storage=58,printer:p1=39", "--witness", "sari"); code != 0 {
		t.Fatalf("shift close: exit %d\n%s", code, out)
	}
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
	// The blanks' log names the two people who signed in; the people log
	// has the refused witness and the account changes.
	out, _ = ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv")
	if !strings.Contains(out, "adjusted,ani,") || !strings.Contains(out, "ani;sari") {
		t.Errorf("blank export lacks the adjustment by ani and sari:\n%s", out)
	}
	out, code = ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv", "--log", "people")
	if code != 0 || !strings.Contains(out, "sign_in_failed,sari,,,socket,,,,wrong_secret") || !strings.Contains(out, "account_changed,root,add,ani,host,operator") {
		t.Errorf("people export (exit %d):\n%s", code, out)
	}
}
