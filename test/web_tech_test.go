package test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"printstation/inventory"
)

// TestWebTechnician drives the technician's screen in a real Chromium
// against the real daemon and printer simulator, in Indonesian and in
// English: a technician signs in, reads the printer's health (model,
// serial, ribbon, counters, cleaning policy), presses Test card and sees
// its blank counted on the page and in the ledger (spoiled, cause test,
// by the technician: what an auditor's export shows); while the printer
// prints a batch, a button pressed is refused with why and takes nothing;
// axe-core finds no WCAG 2 A/AA violation on these screens.
func TestWebTechnician(t *testing.T) {
	needChromium(t)
	// Every eject answers late, so the batch keeps the printer printing
	// for a while (under the driver's end-of-card bound).
	s := newE2E(t, e2eOpts{jobs: 4, batch: 4, printers: 1, noChip: true, web: true, faults: map[int]string{0: "*:eject:slow:6s\n"}})
	s.startDaemon()
	s.stock(20)
	if out, code := ctlIn(t, s.sock, secretOf("tek")+"\n"+secretOf("tek")+"\n", "user", "add", "--role", "technician", "tek"); code != 0 {
		t.Fatalf("user add tek (exit %d):\n%s", code, out)
	}
	testCards := func() (n int, by string) {
		for _, r := range s.ledger() {
			if r.Kind == inventory.Spoiled && r.Reason == inventory.ReasonTest && r.Printer == "p1" {
				n, by = n+1, r.Actor
			}
		}
		return n, by
	}
	before, _ := testCards()

	b := newBrowser(t, s, "id-ID,id")
	b.signIn("tek", "technician")
	b.step("open the technician's screen", 30*time.Second,
		click("#tech-link"),
		chromedp.WaitVisible(chromedp.CSS("#tech-p1-test-card")),
	)
	tile := `section[data-printer="p1"]`
	for sel, want := range map[string]string{
		tile + " .model":          "Evolis Primacy (simulated)",
		tile + " .serial":         "SIM-p1",
		tile + " .ribbon":         "ymcko",
		tile + " .cards-inserted": "0",
		tile + " .policy":         "Aturan stasiun: peringatan pada 1.000 kartu sejak pembersihan, printer berhenti pada 2.000 kartu.",
		"#guide-p1":               "Printer siap. Perawatan boleh dilakukan di antara kartu.",
		"#tech-p1-test-card":      "Kartu uji",
		"#tech-p1-clean":          "Pembersihan",
	} {
		if got := b.text(sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}
	b.check("01-tech-id")

	b.step("press Kartu uji (test card)", 60*time.Second,
		click("#tech-p1-test-card"),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := b.text("#flash"); got != "Kartu uji dicetak di printer p1: 1 kartu kosong tercatat sebagai rusak (sebab: kartu uji)." {
		t.Fatalf("after the test card the page says %q", got)
	}
	if got := b.text(tile + " .cards-inserted"); got != "1" {
		t.Errorf("cards inserted after the test card: %q, want 1", got)
	}
	if n, by := testCards(); n != before+1 || by != "tek" {
		t.Fatalf("the ledger has %d test cards by %q, want %d by tek", n, by, before+1)
	}
	b.check("02-tech-test-card-id")

	// In English, while the printer prints a batch: the page was drawn
	// while the printer was idle, the button pressed now is refused.
	b.lang("en")
	if got := b.text("#tech-p1-test-card"); got != "Test card" {
		t.Errorf("the English button says %q", got)
	}
	waitFor(t, 120*time.Second, func() bool {
		st := s.status()
		return len(st.Batches) == 1 && st.Batches[0].Total == 4
	}, "the 4 jobs synced from centralsim")
	s.ctl("batch", "start", s.status().Batches[0].ID)
	waitFor(t, 60*time.Second, func() bool {
		st := s.status()
		return len(st.Printers) == 1 && st.Printers[0].State == "printing"
	}, "the printer printing the batch")
	b.step("press Self-adjust while a card prints", 60*time.Second,
		click("#tech-p1-self-adjust"),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	)
	if got := b.text("#error"); !strings.Contains(got, "Not done: printer p1 is printing a card.") {
		t.Fatalf("a button pressed while printing: %q", got)
	}
	// Drawn again while printing: every button is off, and says why.
	if got := b.eval(`String([...document.querySelectorAll(".tech-actions button")].filter(b => !b.disabled).length)`); got != "0" {
		t.Errorf("%s buttons are on while the printer prints", got)
	}
	if got := b.text("#guide-p1"); got != "The printer is printing a card. Maintenance waits until the card is out." {
		t.Errorf("the printing printer's guidance: %q", got)
	}
	b.check("03-tech-printing-en")
	if n, _ := testCards(); n != before+1 {
		t.Errorf("%d test cards after the refused button, want %d", n, before+1)
	}
	// The people log has the technician's test card, and not the refused
	// action.
	out, code := ctl(t, s.sock, "audit", "export", "--db", s.dir+"/state/station.db", "--format", "csv", "--log", "people")
	if code != 0 {
		t.Fatalf("audit export --log people: %s", out)
	}
	if !strings.Contains(out, "printer_diag_test-card") || strings.Contains(out, "printer_diag_self-adjust") {
		t.Errorf("people log:\n%s", out)
	}
	b.step("one printer's screen", 30*time.Second, chromedp.Navigate(b.base+"tech/p1"), chromedp.WaitVisible(chromedp.CSS("#guide-p1")))
	b.check("04-tech-p1-en")
}
