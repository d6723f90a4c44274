package test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"printstation/inventory"
	"printstation/sim/central"
)

const chromiumPath = "/usr/bin/chromium"

// screenshotDir is where TestWebPage leaves a PNG of every main screen
// (test/screenshots/TestWebPage/, or $PRINTSTATION_SCREENSHOTS/TestWebPage).
func screenshotDir(t *testing.T) string {
	base := os.Getenv("PRINTSTATION_SCREENSHOTS")
	if base == "" {
		base = "screenshots"
	}
	dir, err := filepath.Abs(filepath.Join(base, t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWebPage drives the print-room page in a real Chromium against the
// real daemon, printer simulator, central simulator and virtual chip, in
// Indonesian and in English:
//   - an operator (Indonesian) signs in and starts the batch; the daemon is
//     killed mid-card: the page shows the lost station at once (banner,
//     buttons off) and, once it is back, returns to the sign-in;
//   - a supervisor (English) finds the card the crash left uncertain with
//     its explanation before the two different buttons, keeps keyboard
//     focus across live refreshes, spoils the card (F5 does not repeat
//     it), sees the printer's Spoiled count, and watches the batch finish
//     through live updates only;
//   - the supervisor finds the citizen's job by NIK, reads its whole story
//     and shows the face preview; the queue of the day and the shift
//     report;
//   - every main screen in both languages: a screenshot and axe-core with
//     zero WCAG 2 A/AA violations; the main screens fit a 400 px window;
//   - the NIK is nowhere in the station's database file in the clear.
func TestWebPage(t *testing.T) {
	needChromium(t)
	// The second card's eject answers late: the daemon is killed while
	// it waits, with the card's blank fed, so the restart finds an
	// uncertain card for a person. The jobs carry no chip data: the page
	// is under test here, the chip path is the other end-to-end tests'
	// (and this test then needs no pcscd).
	s := newE2E(t, e2eOpts{jobs: 6, batch: 6, printers: 1, noChip: true, web: true, faults: map[int]string{0: "2:eject:slow:3s\n"}})
	// Personal data kept a day after the centre's acknowledgement, as a
	// station would, so that the face can still be previewed.
	cfg, _ := os.ReadFile(s.cfg)
	if err := os.WriteFile(s.cfg, append(cfg, "\n[queue]\nretention_hours = 24\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	s.startDaemon()
	s.stock(20)
	waitFor(t, 120*time.Second, func() bool {
		st := s.status()
		return len(st.Batches) == 1 && st.Batches[0].Total == 6
	}, "the 6 jobs synced from centralsim")
	batch := s.status().Batches[0].ID
	base := "http://" + s.web + "/"
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get(base)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, "the web page answering on "+base)

	// A regency office's computer: the browser asks for Indonesian.
	br := newBrowser(t, s, "id-ID,id")
	step, eval, poll, until, text, check, lang, signIn := br.step, br.eval, br.poll, br.until, br.text, br.check, br.lang, br.signIn
	row := fmt.Sprintf(`tr[data-batch=%q]`, batch)

	// --- The operator, in Indonesian (the page's first language).
	if got := eval(`document.documentElement.lang`); got != "id" {
		t.Fatalf("a browser asking for Indonesian gets lang=%q, want id", got)
	}
	check("01-signin-id")
	signIn("ani", "operator")
	if who := text("#who"); who != "ani (operator)" {
		t.Fatalf("signed in as %q", who)
	}
	if got := text(row + " .batch-progress"); got != "0 dari 6 dicetak" {
		t.Fatalf("new batch shows %q, want 0 dari 6 dicetak", got)
	}
	if got := text(row + " .batch-state"); got != "Baru" {
		t.Fatalf("batch state %q before Start, want Baru", got)
	}
	// An operator is not offered what only a supervisor may do.
	if n := eval(fmt.Sprintf(`String(document.querySelectorAll(%q).length)`, row+" button.cancel")); n != "0" {
		t.Errorf("an operator is offered Cancel")
	}
	check("02-home-operator-id")
	// The sign-in's note is still on the page: without removing it, the
	// wait below could see it before the browser has left for Start's answer.
	eval(`(() => { const n = document.getElementById("flash"); if (n) { n.remove(); } return "gone"; })()`)
	step("press Mulai (Start)", 30*time.Second,
		click(row+" button.start"),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if flash := text("#flash"); flash != "Batch "+batch+" dimulai." {
		t.Fatalf("after Start the page says %q", flash)
	}
	if loc := eval(`location.pathname`); loc != "/" {
		t.Errorf("after Start the browser is at %q, want / (POST-redirect-GET)", loc)
	}

	// Kill the daemon while the second card waits for its eject.
	waitFor(t, 3*time.Minute, func() bool {
		printed := 0
		for _, e := range s.journal(s.printers[0]) {
			if e["event"] == "printed" {
				printed++
			}
		}
		return printed >= 2
	}, "the printer simulator printing the second card")
	first := s.daemon
	s.daemon.cmd.Process.Signal(syscall.SIGKILL)
	<-s.daemon.done
	poll("the lost station shown at once", `!document.getElementById("conn").hidden && document.body.classList.contains("offline")`, 20*time.Second)
	if n := eval(`String([...document.querySelectorAll("form[method=post] button")].filter(b => !b.disabled).length)`); n != "0" {
		t.Errorf("%s buttons still work with the station gone", n)
	}
	if got := text("#conn"); !strings.Contains(got, "Sambungan ke stasiun terputus") {
		t.Errorf("banner says %q", got)
	}
	check("03-station-lost-id")
	s.daemon = startDaemon(t, s.cfg)
	s.waitAnswering()
	// The restarted daemon holds no sessions: the page reconnects by itself
	// and goes back to the sign-in.
	until("the page reconnecting to the restarted station", `!!document.getElementById("signin") && document.readyState === "complete"`, 60*time.Second)

	// --- The supervisor, in English.
	lang("en")
	check("04-signin-en")
	signIn("sari", "supervisor")
	waitFor(t, 60*time.Second, func() bool { return s.uncertain() == 1 }, "the restart's uncertain card")
	uncertain := s.uncertainJobs()[0]
	job := fmt.Sprintf(`article[data-job=%q]`, uncertain)
	step("see the uncertain card", 30*time.Second, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS(job+" a.spoil")))
	why := text(job + " .why")
	if !strings.Contains(why, "choose one of the two below") || strings.Contains(why, "printstationctl") {
		t.Errorf("the uncertain card's reason: %q", why)
	}
	// The explanation of each choice comes before its button, and the two
	// buttons look different.
	order := eval(fmt.Sprintf(`(() => { const a = document.querySelector(%q); const t = a.textContent;
		return [t.indexOf("The card is good"), t.indexOf("Confirm"), t.indexOf("The card is bad"), t.lastIndexOf("Spoil")].join(","); })()`, job))
	var g, c, b, sp int
	fmt.Sscanf(order, "%d,%d,%d,%d", &g, &c, &b, &sp)
	if !(g >= 0 && g < c && c < b && b < sp) {
		t.Errorf("explanations and buttons out of order: %s", order)
	}
	looks := eval(fmt.Sprintf(`(() => { const c = getComputedStyle(document.querySelector(%q)), s = getComputedStyle(document.querySelector(%q));
		return c.backgroundColor + "|" + s.backgroundColor; })()`, job+" a.confirm", job+" a.spoil"))
	if parts := strings.Split(looks, "|"); len(parts) != 2 || parts[0] == parts[1] {
		t.Errorf("Confirm and Spoil look the same: %s", looks)
	}
	if name := eval(fmt.Sprintf(`document.querySelector(%q).textContent`, job+" a.spoil")); !strings.Contains(name, uncertain) {
		t.Errorf("the Spoil button's name %q does not say which job", name)
	}
	check("05-waiting-supervisor-en")

	// Keyboard focus survives the live refresh.
	step("focus Spoil", 10*time.Second, chromedp.Focus(chromedp.CSS(job+" a.spoil")))
	focused := eval(`document.activeElement.id`)
	eval(`document.getElementById("summary").dataset.old = "1"; "ok"`)
	poll("a live refresh", `!document.getElementById("summary").dataset.old`, 30*time.Second)
	if now := eval(`document.activeElement.id`); now != focused || focused == "" {
		t.Errorf("focus after a live refresh is on %q, want %q", now, focused)
	}
	// Spoiling asks for the reason, which the people log keeps.
	step("press Spoil and give the reason", 60*time.Second,
		click(job+" a.spoil"),
		chromedp.WaitVisible(chromedp.CSS("#reason")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "left in the printer by the crash"),
		click("#act-button"),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if flash := text("#flash"); !strings.Contains(flash, "Job "+uncertain+": card spoiled") {
		t.Fatalf("after Spoil the page says %q", flash)
	}
	spoils := func() int {
		n := 0
		for _, r := range s.ledger() {
			if r.Kind == inventory.Spoiled && r.Job == uncertain {
				n++
			}
		}
		return n
	}
	if n := spoils(); n != 1 {
		t.Fatalf("the ledger has %d spoiled cards for %s, want 1", n, uncertain)
	}
	step("reload (F5)", 30*time.Second, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#live")))
	if n := spoils(); n != 1 {
		t.Errorf("F5 after Spoil repeated it: %d spoiled cards for the job", n)
	}
	if n := eval(`String(document.querySelectorAll("#flash, #error").length)`); n != "0" {
		t.Errorf("the note stays after F5")
	}
	poll("the printer's Spoiled count", `(document.querySelector('[data-printer="p1"] .spoiled') || {}).textContent === "1"`, 30*time.Second)

	// Dual control on one screen: the supervisor destroys the spoiled card
	// with a witness who signs in on the same form. Herself as her own
	// witness is refused and records nothing; the operator as witness is
	// recorded with both signed-in names.
	destroyed := func() []inventory.ExportRecord {
		var out []inventory.ExportRecord
		for _, r := range s.ledger() {
			if r.Kind == inventory.Destroyed {
				out = append(out, r)
			}
		}
		return out
	}
	destroy := func(what, witness, wait string) {
		t.Helper()
		step(what, 60*time.Second,
			chromedp.Navigate(base+"stock"),
			chromedp.WaitVisible(chromedp.CSS("#destroy")),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=quantity]`), "1"),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=record_ref]`), "BA-2026-031"),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_name]`), witness),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_secret]`), secretOf(witness)),
			click("#destroy-button"),
			chromedp.WaitVisible(chromedp.CSS(wait)),
		)
	}
	destroy("destroy with herself as the witness", "sari", "#error")
	if n := len(destroyed()); n != 0 {
		t.Fatalf("a destruction with the same account as witness was recorded (%d events)", n)
	}
	check("05-stock-refused-en")
	destroy("destroy with the operator as the witness", "ani", "#flash")
	if ds := destroyed(); len(ds) != 1 || ds[0].Actor != "sari" || !slices.Contains(ds[0].Witnesses, "ani") || !slices.Contains(ds[0].Witnesses, "sari") {
		t.Fatalf("destruction in the ledger: %+v, want one by sari witnessed by ani", ds)
	}
	step("back to the print room", 30*time.Second, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.CSS("#live")))

	// The batch finishes through live updates alone.
	eval(`window.__notReloaded = true; "ok"`)
	poll("the batch printing 6 of 6 through live updates", fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === "6 of 6 printed"`, row+" .batch-progress"), 10*time.Minute)
	if eval(`String(window.__notReloaded === true)`) != "true" {
		t.Fatalf("the page was reloaded to show progress; it should follow the live stream")
	}
	if got := text(row + " .batch-state"); got != "Done" {
		t.Errorf("finished batch shows state %q, want Done", got)
	}
	if n := eval(fmt.Sprintf(`String(document.querySelectorAll(%q).length)`, row+" button")); n != "0" {
		t.Errorf("finished batch still has %s buttons", n)
	}
	check("06-home-supervisor-en")

	// Find the citizen whose card the crash spoiled, by NIK as written at
	// the counter.
	var n int
	fmt.Sscanf(uncertain[strings.LastIndex(uncertain, "-")+1:], "%d", &n)
	nik := central.PersonOf(s.station, n).Fields["nik"]
	if len(nik) != 16 {
		t.Fatalf("synthetic NIK %q", nik)
	}
	spaced := nik[:6] + " " + nik[6:12] + " " + nik[12:]
	step("search by NIK", 30*time.Second,
		click(`nav a[href="/search"]`),
		chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), spaced),
		click("#search-button"),
		chromedp.WaitVisible(chromedp.CSS("#results")),
	)
	if got := text("#results-count"); got != "1 job for this NIK." {
		t.Fatalf("NIK search says %q", got)
	}
	if loc := eval(`location.href`); strings.Contains(loc, nik[:6]) {
		t.Errorf("the NIK is in the address: %s", loc)
	}
	check("07-search-en")
	step("open the job", 30*time.Second, click(fmt.Sprintf(`a[href="/job/%s"]`, uncertain)), chromedp.WaitVisible(chromedp.CSS("#story")))
	story := text("#story")
	for _, want := range []string{"Received from the central server", "Card spoiled on printer p1", "uncertain after a restart", "by sari", "Card printed on printer p1"} {
		if !strings.Contains(story, want) {
			t.Errorf("the job's story lacks %q:\n%s", want, story)
		}
	}
	step("show the face", 30*time.Second, click("#show-face"), chromedp.WaitVisible(chromedp.CSS("#face")))
	poll("the face preview drawn", `document.getElementById("face").complete && document.getElementById("face").naturalWidth > 100`, 30*time.Second)
	check("08-job-en")
	step("today's queue", 30*time.Second, click(`nav a[href="/today"]`), chromedp.WaitVisible(chromedp.CSS("#today-count")))
	if got := text("#today-count"); got != "6 jobs received or changed today." {
		t.Errorf("today's queue says %q", got)
	}
	check("09-today-en")
	step("shift report", 30*time.Second, click(`nav a[href="/report"]`), chromedp.WaitVisible(chromedp.CSS("#report-printed")))
	if p, sp := text("#report-printed"), text("#report-spoiled"); p != "6" || sp != "1" {
		t.Errorf("shift report: printed %s spoiled %s, want 6 and 1", p, sp)
	}
	check("10-report-en")

	// The same screens in Indonesian.
	lang("id")
	check("11-report-id")
	for _, sc := range []struct{ name, path, ready string }{
		{"12-home-supervisor-id", "/", "#live"},
		{"13-search-id", "/search", "#results"},
		{"14-job-id", "/job/" + uncertain + "?face=1", "#face"},
		{"15-today-id", "/today", "#today-count"},
	} {
		step("open "+sc.path, 30*time.Second, chromedp.Navigate(base+strings.TrimPrefix(sc.path, "/")), chromedp.WaitVisible(chromedp.CSS(sc.ready)))
		check(sc.name)
	}
	if got := text("#today-count"); got != "6 pekerjaan diterima atau berubah hari ini." {
		t.Errorf("today's queue in Indonesian: %q", got)
	}
	// A 400 px window: nothing wider than the screen.
	for _, p := range []string{"/", "/search", "/job/" + uncertain} {
		step("400 px "+p, 30*time.Second, chromedp.EmulateViewport(400, 900), chromedp.Navigate(base+strings.TrimPrefix(p, "/")), chromedp.WaitVisible(chromedp.CSS("main")))
		if w := eval(`String(document.documentElement.scrollWidth)`); w != "400" {
			t.Errorf("at 400 px %s is %s px wide", p, w)
		}
	}
	check("16-search-400px-id")
	step("back to a desktop window", 10*time.Second, chromedp.EmulateViewport(1280, 900))

	// The operator's screens in English.
	lang("en")
	step("sign out", 30*time.Second, chromedp.Navigate(base), click("#signout"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	signIn("ani", "operator")
	check("17-home-operator-en")

	log := first.stderr.String() + s.daemon.stderr.String()
	if !strings.Contains(log, `"actor":"ani"`) {
		t.Errorf("the daemon did not record the operator's name as the actor of the start")
	}
	actor := ""
	for _, r := range s.ledger() {
		if r.Kind == inventory.Spoiled && r.Job == uncertain {
			actor = r.Actor
		}
	}
	if actor != "sari" {
		t.Errorf("the ledger's spoiled card of %s names %q, want the supervisor", uncertain, actor)
	}
	checkLogHasNoPersonalKeys(t, log)
	if strings.Contains(log, nik) {
		t.Errorf("the daemon's log holds the NIK searched for")
	}

	// The NIK is nowhere in the database in the clear (the search used the
	// keyed index).
	s.daemon.cmd.Process.Signal(syscall.SIGTERM)
	<-s.daemon.done
	var raw []byte
	for _, suf := range []string{"", "-wal"} {
		b, _ := os.ReadFile(filepath.Join(s.dir, "state", "station.db"+suf))
		raw = append(raw, b...)
	}
	if len(raw) < 10_000 {
		t.Fatalf("the database holds only %d bytes; the test looks in the wrong place", len(raw))
	}
	for i := 1; i <= 6; i++ {
		p := central.PersonOf(s.station, i)
		if bytes.Contains(raw, []byte(p.Fields["nik"])) || bytes.Contains(raw, []byte(p.Fields["nama"])) {
			t.Errorf("the database holds job %d's NIK or name in the clear", i)
		}
	}
	if errs := br.errors(); len(errs) > 0 {
		t.Errorf("JavaScript errors on the page: %q", errs)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
