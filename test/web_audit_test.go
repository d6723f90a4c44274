package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/chromedp/chromedp"

	"printstation/inventory"
)

const auditOffice = "Dinas Dukcapil Kabupaten Uji"

// TestWebAuditor runs the auditor's main path in a real Chromium against
// the real daemon, printer simulator, central simulator and virtual chips,
// in Indonesian and then in English: sign in as an auditor, verify the
// ledger, reconcile today, download an export (the same bytes as
// `audit export`), open the berita acara of a destruction a supervisor
// recorded on /stock (cards ticked by chip UID, a witness signing in on
// the same form), print it to PDF on A4 and read it back
// with pdftotext: it lists exactly the destroyed cards' UIDs, their causes
// and the two people the ledger holds. axe-core finds no WCAG A/AA
// violation on any auditor screen.
func TestWebAuditor(t *testing.T) {
	needChromium(t)
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("no pdftotext here; make test installs poppler-utils (scripts/deps.sh)")
		}
		t.Fatal("CI needs pdftotext (poppler-utils, scripts/deps.sh)")
	}
	requirePcscd(t)
	// The second card jams in the print: its chip was written, so the
	// ledger spoils a blank whose UID it knows.
	s := newE2E(t, e2eOpts{jobs: 3, batch: 3, printers: 1, vicc: true, web: true, faults: map[int]string{0: "2:print:jam\n"}})
	cfg, _ := os.ReadFile(s.cfg)
	cfg = []byte(strings.Replace(string(cfg), fmt.Sprintf("listen = %q\n", s.web), fmt.Sprintf("listen = %q\noffice = %q\n", s.web, auditOffice), 1))
	if err := os.WriteFile(s.cfg, cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	s.startDaemon()
	if out, code := ctlIn(t, s.sock, secretOf("rudi")+"\n"+secretOf("rudi")+"\n", "user", "add", "--role", "auditor", "rudi"); code != 0 {
		t.Fatalf("user add rudi: %s", out)
	}
	s.stock(10)
	s.startBatches(3)
	s.settleBatch("auditor's station", s.status().Batches[0].ID)

	var uids []string
	for _, r := range s.ledger() {
		if r.Kind == inventory.Spoiled && r.UID != inventory.UIDUnknown {
			uids = append(uids, r.UID)
		}
	}
	if len(uids) == 0 {
		t.Fatalf("the jam spoiled no card with a known chip; ledger: %+v", s.ledger())
	}
	b := newBrowser(t, s, "id-ID,id")

	// The supervisor destroys them on /stock, ticking each by its chip
	// UID, with a witness who signs in on the same form.
	b.signIn("sari", "supervisor")
	b.step("open the stock page", 30*time.Second, chromedp.Navigate(b.base+"stock"), chromedp.WaitVisible(chromedp.CSS("#destroy-cards")))
	b.check("00-stock-destroy-by-uid-id")
	for _, u := range uids {
		b.step("tick "+u, 10*time.Second, click(fmt.Sprintf(`#destroy input[name=uid][value=%q]`, u)))
	}
	b.step("destroy with a witness", 60*time.Second,
		chromedp.SendKeys(chromedp.CSS(`#destroy input[name=record_ref]`), "BA-2026-077"),
		chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_name]`), "ani"),
		chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_secret]`), secretOf("ani")),
		click("#destroy-button"),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	b.step("sign out", 30*time.Second, click("#signout"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	var destroyed inventory.ExportRecord
	spoiledCause := map[string]string{}
	for _, r := range s.ledger() {
		switch r.Kind {
		case inventory.Destroyed:
			destroyed = r
		case inventory.Spoiled:
			spoiledCause[r.UID] = r.Reason
		}
	}
	if destroyed.RecordRef != "BA-2026-077" || !slices.Equal(sorted(destroyed.UIDs), sorted(uids)) {
		t.Fatalf("the ledger's destruction: %+v", destroyed)
	}

	b.signIn("rudi", "auditor")
	for _, lang := range []string{"id", "en"} {
		if lang == "en" {
			b.lang("en")
		}
		auditorPath(t, s, b, lang, destroyed, spoiledCause)
	}
	// A 400 px window (a phone, a narrow desk screen): nothing wider.
	for _, p := range []string{"audit?run=1", "audit/reconcile?from=" + time.Now().Format("2006-01-02") + "&to=" + time.Now().Format("2006-01-02"), "audit/spoiled",
		fmt.Sprintf("audit/berita-acara/%d", destroyed.Seq), "audit/people", "audit/monthly"} {
		b.step("400 px "+p, 60*time.Second, chromedp.EmulateViewport(400, 900), chromedp.Navigate(b.base+p), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := b.eval(`String(document.documentElement.scrollWidth)`); w != "400" {
			t.Errorf("at 400 px /%s is %s px wide", p, w)
		}
	}
	b.check("09-spoiled-400px-en")
	if errs := b.errors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the auditor's screens: %q", errs)
	}
	checkLogHasNoPersonalKeys(t, s.daemon.stderr.String())
	for _, u := range uids {
		if strings.Contains(s.daemon.stderr.String(), u) {
			t.Errorf("the daemon's log carries chip UID %s", u)
		}
	}
}

func sorted(xs []string) []string {
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return out
}

// catalogText reads a message of the page's catalogs as the page writes it.
func catalogText(t *testing.T, lang, id string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(repoRoot(t), "web", "locales", "*."+lang+".toml"))
	for _, f := range files {
		var m map[string]any
		if _, err := toml.DecodeFile(f, &m); err != nil {
			t.Fatal(err)
		}
		if v, ok := m[id].(string); ok {
			return v
		}
	}
	t.Fatalf("no message %s in the %s catalogs", id, lang)
	return ""
}

// cliCheckpoints is what `audit verify` counts in the station's database.
func cliCheckpoints(t *testing.T, s *e2e) int {
	t.Helper()
	out, code := ctl(t, s.sock, "audit", "verify", "--json", "--db", filepath.Join(s.dir, "state", "station.db"))
	var cli struct {
		Pass        bool `json:"pass"`
		Checkpoints int  `json:"checkpoints"`
	}
	if err := json.Unmarshal([]byte(out), &cli); err != nil || code != 0 || !cli.Pass {
		t.Fatalf("audit verify: %d %v\n%s", code, err, out)
	}
	return cli.Checkpoints
}

var uidRE = regexp.MustCompile(`\b[0-9A-F]{8,40}\b`)

func auditorPath(t *testing.T, s *e2e, b *browser, lang string, destroyed inventory.ExportRecord, cause map[string]string) {
	name := func(n string) string { return n + "-" + lang }
	word := func(id string) string { return catalogText(t, lang, id) }

	// Verify.
	b.step("open the audit screens", 30*time.Second, click("#audit-link"), chromedp.WaitVisible(chromedp.CSS("#verify-button")))
	b.check(name("01-audit"))
	// audit verify on the same file before and after the page's: when
	// no checkpoint was signed in between, the counts agree.
	before := cliCheckpoints(t, s)
	b.step("verify the ledger", 120*time.Second, click("#verify-button"), chromedp.WaitVisible(chromedp.CSS("#verify-result")))
	if cls := b.eval(`document.getElementById("verify-result").className`); cls != "verdict pass" {
		t.Fatalf("verify on the page: %s: %s", cls, b.text("#verify-result"))
	}
	if got := b.text("#verify-result .verdict-title"); got != word("audit_verify_pass") {
		t.Errorf("verify verdict %q", got)
	}
	if got := b.text("#verify-checkpoints"); got != fmt.Sprint(before) && before == cliCheckpoints(t, s) {
		t.Errorf("the page counts %s checkpoints, audit verify %d", got, before)
	}
	// The real centre's record was fetched and compared.
	if got, want := b.text("#centre-compared"), strings.Split(word("audit_centre_compared"), ":")[0]; !strings.HasPrefix(got, want) {
		t.Errorf("the verification did not compare the centre's record: %q", got)
	}
	if n, c := b.eval(`String(document.querySelectorAll("#checkpoints tr[data-size]").length)`), b.text("#verify-checkpoints"); n != c || n == "0" {
		t.Errorf("%s checkpoint rows, the page counts %s", n, c)
	}
	b.check(name("02-verify"))

	// Reconcile today (the form's dates default to today).
	b.step("reconcile", 60*time.Second,
		click(`.audit-tabs a[href="/audit/reconcile"]`), chromedp.WaitVisible(chromedp.CSS("#reconcile-button")),
		click("#reconcile-button"), chromedp.WaitVisible(chromedp.CSS("#reconcile-result")))
	var consumed, spoiled int
	for _, r := range s.ledger() {
		if r.Printer == "p1" && r.Kind == inventory.Consumed {
			consumed++
		}
		if r.Printer == "p1" && r.Kind == inventory.Spoiled {
			spoiled++
		}
	}
	if got := b.text(`#reconcile-table tr[data-place="p1"] .consumed`); got != fmt.Sprint(consumed) {
		t.Errorf("reconcile: p1 consumed %s, the ledger %d", got, consumed)
	}
	if got := b.text(`#reconcile-table tr[data-place="p1"] .spoiled`); got != fmt.Sprint(spoiled) {
		t.Errorf("reconcile: p1 spoiled %s, the ledger %d", got, spoiled)
	}
	// The printer's counter, read now between cards, is what the ledger
	// expects: no difference anywhere.
	if got := b.text(`#reconcile-table tr[data-place="p1"] .live-counter`); !strings.HasPrefix(got, strings.Split(word("audit_counter_now"), ":")[0]+":") {
		t.Errorf("reconcile: p1's counter was not read now: %q", got)
	}
	if cls := b.eval(`document.getElementById("reconcile-result").className`); cls != "verdict pass" {
		t.Errorf("reconcile today: %s", b.text("main"))
	}
	b.check(name("03-reconcile"))

	// Download an export: the bytes of `audit export`.
	format := map[string]string{"id": "csv", "en": "json"}[lang]
	b.step("open exports", 30*time.Second, click(`.audit-tabs a[href="/audit/export"]`), chromedp.WaitVisible(chromedp.CSS("#export-form")))
	b.check(name("04-export"))
	got := b.download("download the "+format+" export", click("#export-"+format))
	want, code := ctl(t, s.sock, "audit", "export", "--db", filepath.Join(s.dir, "state", "station.db"), "--format", format)
	if code != 0 || string(got) != want || !strings.Contains(want, "BA-2026-077") {
		t.Errorf("the page's %s export (%d bytes) is not audit export's (%d bytes)", format, len(got), len(want))
	}

	// People log and monthly report: shown, accessible.
	b.step("people log", 30*time.Second, click(`.audit-tabs a[href="/audit/people"]`), chromedp.WaitVisible(chromedp.CSS("#people")))
	if !strings.Contains(b.text("#people"), "rudi") {
		t.Errorf("the people log lacks the auditor's own sign-in")
	}
	b.check(name("05-people"))
	b.step("monthly report", 30*time.Second, click(`.audit-tabs a[href="/audit/monthly"]`), chromedp.WaitVisible(chromedp.CSS("#monthly")))
	if got := b.text("#m-destroyed"); got != fmt.Sprint(destroyed.Quantity) {
		t.Errorf("monthly report: destroyed %s, the ledger %d", got, destroyed.Quantity)
	}
	b.check(name("06-monthly"))

	// The spoiled cards and the berita acara.
	b.step("spoiled cards", 30*time.Second, click(`.audit-tabs a[href="/audit/spoiled"]`), chromedp.WaitVisible(chromedp.CSS("#destructions")))
	b.check(name("07-spoiled"))
	b.step("open the berita acara", 30*time.Second,
		click(fmt.Sprintf(`#destructions tr[data-seq="%d"] a.ba-link`, destroyed.Seq)), chromedp.WaitVisible(chromedp.CSS("#berita-acara")))
	b.check(name("08-berita-acara"))
	pdf := b.printPDF("print the berita acara")
	file := filepath.Join(b.shots, name("berita-acara")+".pdf")
	if err := os.WriteFile(file, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := exec.Command("pdfinfo", file).CombinedOutput()
	if err != nil || !strings.Contains(string(info), "(A4)") {
		t.Errorf("the berita acara is not printed on A4: %v\n%s", err, info)
	}
	txt, err := exec.Command("pdftotext", "-layout", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	text := string(txt)
	if got, want := sorted(uidRE.FindAllString(text, -1)), sorted(destroyed.UIDs); !slices.Equal(got, want) {
		t.Errorf("the printed berita acara lists UIDs %v, the ledger destroyed %v:\n%s", got, want, text)
	}
	flat := strings.Join(strings.Fields(text), " ")
	for _, u := range destroyed.UIDs {
		c := word("spoil_reason_" + cause[u])
		if !strings.Contains(flat, c) {
			t.Errorf("the printed berita acara lacks the cause %q of %s:\n%s", c, u, text)
		}
	}
	for _, w := range destroyed.Witnesses {
		if !regexp.MustCompile(`\b` + regexp.QuoteMeta(w) + `\b`).MatchString(flat) {
			t.Errorf("the printed berita acara lacks the witness %s:\n%s", w, text)
		}
	}
	for _, want := range []string{word("audit_ba_witness"), word("audit_ba_destroyed_by"), "BA-2026-077", auditOffice} {
		if !strings.Contains(flat, want) {
			t.Errorf("the printed berita acara lacks %q:\n%s", want, text)
		}
	}
	if lang == "id" && !strings.Contains(strings.ToUpper(flat), "BERITA ACARA PEMUSNAHAN") {
		t.Errorf("the Indonesian record is not titled Berita Acara Pemusnahan:\n%s", text)
	}
	if strings.Contains(flat, word("audit_tab_reconcile")) || strings.Contains(flat, word("sign_out")) {
		t.Errorf("the page's menus are printed on the berita acara:\n%s", text)
	}
}
