package test

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"printstation/inventory"
)

// TestWebStock runs the supervisor's stock path in a real Chromium against
// the real daemon, printer simulator and central simulator (each its own
// process), in Indonesian and then in English: receive a delivery and load
// a printer from the page; close the shift with the counted blanks and a
// witness who signs in on the same form (herself refused first); the day's
// stock announcement with the ledger's figures, sent to the centre and
// printed to an A4 PDF; a request for blanks made while the centre is down
// shows "waiting for the centre", and once the centre is back the centre's
// reference, which is the one request the centre holds. axe-core finds no
// WCAG A/AA violation on any of these screens.
func TestWebStock(t *testing.T) {
	needChromium(t)
	s := newE2E(t, e2eOpts{jobs: 0, batch: 1, printers: 1, noChip: true, web: true})
	s.startDaemon()
	s.waitLinked()
	b := newBrowser(t, s, "id-ID,id")
	b.signIn("sari", "supervisor")
	ledger := func(kind inventory.Kind) []inventory.ExportRecord {
		var out []inventory.ExportRecord
		for _, r := range s.ledger() {
			if r.Kind == kind {
				out = append(out, r)
			}
		}
		return out
	}
	form := func(what, id string, fields map[string]string, wait string) string {
		t.Helper()
		actions := []chromedp.Action[chromedp.Void]{chromedp.Navigate(b.base + "stock"), chromedp.WaitVisible(chromedp.CSS("#" + id))}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range fields {
				if !yield(k) {
					return
				}
			}
		}) {
			actions = append(actions, chromedp.SendKeys(chromedp.CSS(fmt.Sprintf(`#%s [name=%q]`, id, name)), fields[name]))
		}
		actions = append(actions, click(fmt.Sprintf(`#%s button[type=submit]`, id)), chromedp.WaitVisible(chromedp.CSS(wait)))
		b.step(what, 60*time.Second, actions...)
		return b.text(wait)
	}

	// --- Indonesian: receive and load.
	b.step("open the stock page", 30*time.Second, click("#stock-link"), chromedp.WaitVisible(chromedp.CSS("#receive")))
	b.check("01-stock-id")
	if got := form("receive 300", "receive", map[string]string{"quantity": "300", "delivery_ref": "SJ-2026-1130-01"}, "#flash"); !strings.Contains(got, "300 blangko diterima oleh sari") {
		t.Fatalf("after Terima the page says %q", got)
	}
	if got := form("load 120 into p1", "load", map[string]string{"quantity": "120"}, "#flash"); !strings.Contains(got, "120 blangko dimuat ke printer p1 oleh sari") {
		t.Fatalf("after Muat the page says %q", got)
	}
	if got := b.text(`#on-hand tr[data-place="storage"] td`) + "/" + b.text(`#on-hand tr[data-place="printer:p1"] td`); got != "180/120" {
		t.Errorf("stock on hand storage/p1 after the load: %s, want 180/120", got)
	}
	if rs := ledger(inventory.Received); len(rs) != 1 || rs[0].Quantity != 300 || rs[0].Actor != "sari" || rs[0].DeliveryRef != "SJ-2026-1130-01" {
		t.Fatalf("received in the ledger: %+v", rs)
	}
	if ls := ledger(inventory.Loaded); len(ls) != 1 || ls[0].Quantity != 120 || ls[0].Printer != "p1" || ls[0].Actor != "sari" {
		t.Fatalf("loaded in the ledger: %+v", ls)
	}

	// Shift close: herself as witness is refused, the operator witnesses.
	counts := map[string]string{"counted_storage": "180", "counted_printer:p1": "120", "witness_name": "sari", "witness_secret": secretOf("sari")}
	if got := form("close the shift with herself as witness", "shift-close", counts, "#error"); !strings.Contains(got, "saksi harus orang lain") {
		t.Fatalf("a shift close witnessed by herself says %q", got)
	}
	b.check("02-stock-refused-id")
	if n := len(ledger(inventory.ShiftClosed)); n != 0 {
		t.Fatalf("a refused shift close was recorded (%d)", n)
	}
	counts["witness_name"], counts["witness_secret"] = "ani", secretOf("ani")
	if got := form("close the shift witnessed by ani", "shift-close", counts, "#flash"); !strings.Contains(got, "shift ditutup oleh sari, disaksikan ani") {
		t.Fatalf("after Tutup shift the page says %q", got)
	}
	if sc := ledger(inventory.ShiftClosed); len(sc) != 1 || sc[0].Actor != "sari" || !slices.Equal(sc[0].Witnesses, []string{"ani"}) ||
		sc[0].Counted["storage"] != 180 || sc[0].Counted["printer:p1"] != 120 {
		t.Fatalf("shift close in the ledger: %+v", sc)
	}

	// The day's announcement: the ledger's figures, sent, printable on A4.
	b.step("open the announcement", 30*time.Second, click("#announce-link"), chromedp.WaitVisible(chromedp.CSS("#announce-totals")))
	for sel, want := range map[string]string{"#ann-received": "300", "#ann-loaded": "120", "#ann-used": "0", "#ann-on-hand": "300",
		`tr[data-place="storage"] .closing`: "180", `tr[data-place="printer:p1"] .closing`: "120"} {
		if got := b.text(sel); got != want {
			t.Errorf("announcement %s: %q, want %q", sel, got, want)
		}
	}
	b.step("announce to the centre", 30*time.Second, click("#announce-button"), chromedp.WaitVisible(chromedp.CSS("#flash")))
	b.check("03-announce-id")
	// Printed on the browser's Letter default: the page's own print CSS
	// makes it A4.
	pctx, pcancel := context.WithTimeout(b.ctx, 60*time.Second)
	pdf, err := chromedp.Run(pctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperLetter), chromedp.PDFPreferCSSPageSize()))
	pcancel()
	if err != nil {
		t.Fatalf("printing the announcement: %v", err)
	}
	if m := regexp.MustCompile(`/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]`).FindSubmatch(pdf); m == nil {
		t.Errorf("the announcement's PDF has no page size")
	} else if w, _ := strconv.ParseFloat(string(m[1]), 64); w < 594 || w > 596 {
		t.Errorf("the announcement prints %s × %s pt, want A4 (595 × 842)", m[1], m[2])
	}
	if _, err := exec.LookPath("pdftotext"); err == nil {
		cmd := exec.Command("pdftotext", "-layout", "-", "-")
		cmd.Stdin = bytes.NewReader(pdf)
		out, err := cmd.Output()
		if err != nil || !strings.Contains(string(out), "Pengumuman stok harian") || !strings.Contains(string(out), "Dimuat ke printer") || strings.Contains(string(out), "Umumkan ke pusat") {
			t.Errorf("the printed announcement (%v):\n%s", err, out)
		}
	}

	// A request for blanks while the centre is down: waiting, then the
	// centre's reference once it is back.
	s.stopCentral()
	b.step("open the request for blanks", 30*time.Second, chromedp.Navigate(b.base+"stock/request"), chromedp.WaitVisible(chromedp.CSS("#request")))
	if got := b.text("#fc-method"); !strings.Contains(got, "7 hari terakhir") {
		t.Errorf("the forecast's method: %q", got)
	}
	if got := b.text("#fc-available"); got != "300" {
		t.Errorf("blanks ready: %q, want 300", got)
	}
	b.step("request 500 blanks", 30*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#request [name=quantity]`), "500"),
		chromedp.SendKeys(chromedp.CSS(`#request [name=note]`), "stok untuk dua minggu"),
		click("#request-button"),
		chromedp.WaitVisible(chromedp.CSS("#flash")))
	if got := b.text(`#requests tbody tr .centre`); !strings.Contains(got, "Menunggu pusat") {
		t.Fatalf("the request while the centre is down: %q", got)
	}
	b.check("04-request-waiting-id")
	s.startCentral("")
	end := time.Now().Add(90 * time.Second)
	for b.step("reload the requests", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#requests"))); b.eval(`String(document.querySelector('#requests tr[data-state="acknowledged"]') !== null)`) != "true"; {
		if time.Now().After(end) {
			t.Fatalf("the request is not acknowledged within 90 s of the centre's return:\n%s\ndaemon log tail:\n%s", b.text("#requests"), tail(s.daemon.stderr.String(), 3000))
		}
		time.Sleep(time.Second)
		b.step("reload the requests", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#requests")))
	}
	got := b.text(`#requests tr[data-state="acknowledged"] .centre`)
	rs := newCentreAdmin(t, s).blankRequests(s.station)
	if len(rs) != 1 || rs[0].Quantity != 500 || !strings.Contains(got, "Diterima pusat, nomor "+rs[0].Ref) {
		t.Fatalf("the page says %q; the centre holds %+v", got, rs)
	}
	b.check("05-request-acknowledged-id")

	// --- English: the same screens, and one more delivery and load.
	b.lang("en")
	if got := b.text(`#requests tr[data-state="acknowledged"] .centre`); got != "Acknowledged by the centre, reference "+rs[0].Ref {
		t.Errorf("in English the request says %q", got)
	}
	b.check("06-request-acknowledged-en")
	if got := form("receive 50", "receive", map[string]string{"quantity": "50", "delivery_ref": "SJ-2026-1130-02"}, "#flash"); !strings.Contains(got, "Recorded: 50 blanks received by sari") {
		t.Fatalf("after Receive the page says %q", got)
	}
	if got := form("load 30 into p1", "load", map[string]string{"quantity": "30"}, "#flash"); !strings.Contains(got, "Recorded: 30 blanks loaded into printer p1 by sari") {
		t.Fatalf("after Load the page says %q", got)
	}
	b.check("07-stock-en")
	b.step("open the announcement in English", 30*time.Second, chromedp.Navigate(b.base+"stock/announce"), chromedp.WaitVisible(chromedp.CSS("#announce-totals")))
	if got := b.text("#ann-received") + "/" + b.text("#ann-on-hand"); got != "350/350" {
		t.Errorf("the announcement after the second delivery: received/on hand %s, want 350/350", got)
	}
	b.check("08-announce-en")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the page: %q", errs)
	}
}
