package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// TestWebPage drives the print-room page in a real Chromium against the
// real daemon, printer simulator, central simulator and virtual chip, with
// real accounts: an operator signs in, does not see a supervisor's
// buttons, starts a batch and watches it print through the live updates;
// a supervisor signs in and cancels the other batch with a reason; then
// destroys damaged blanks with a witness who signs in on the same screen,
// after the same account as witness is refused.
func TestWebPage(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s here; make test installs it (scripts/deps.sh)", chromiumPath)
		}
		t.Fatalf("CI needs Chromium at %s: %v", chromiumPath, err)
	}
	requirePcscd(t)
	s := newE2E(t, e2eOpts{jobs: 8, batch: 4, printers: 1, vicc: true, web: true})
	s.startDaemon()
	s.stock(20)
	// Two blanks found damaged in storage await destruction.
	if out, code := s.ctlAs("ani", "", "stock", "spoil", "--quantity", "2"); code != 0 {
		t.Fatalf("stock spoil: exit %d\n%s", code, out)
	}
	waitFor(t, 120*time.Second, func() bool {
		st := s.status()
		return len(st.Batches) == 2 && st.Batches[0].Total == 4 && st.Batches[1].Total == 4
	}, "the 8 jobs in two batches synced from centralsim")
	batch, other := s.status().Batches[0].ID, s.status().Batches[1].ID
	base := "http://" + s.web + "/"
	waitFor(t, 30*time.Second, func() bool {
		resp, err := http.Get(base)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == 200
	}, "the web page answering on "+base)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	var (
		jsMu     sync.Mutex
		jsErrors []string
	)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			jsMu.Lock()
			jsErrors = append(jsErrors, fmt.Sprintf("%s (%s:%d)", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
			jsMu.Unlock()
		}
	}))
	defer cancelBrowser()
	// The first Run starts the browser and must not carry a deadline; each
	// step below gets its own.
	if err := chromedp.Do(bctx, chromedp.Navigate(base)); err != nil {
		t.Fatalf("Chromium could not open %s: %v", base, err)
	}
	step := func(what string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, within)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			html, _ := chromedp.Run(bctx, chromedp.OuterHTML(chromedp.CSS("body")))
			t.Fatalf("%s: %v\npage:\n%s\ndaemon log tail:\n%s", what, err, html, tail(s.daemon.stderr.String(), 3000))
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return v
	}
	count := func(sel string) int {
		t.Helper()
		n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		return n
	}
	signIn := func(name string, wait string) {
		t.Helper()
		step("sign in as "+name, 30*time.Second,
			chromedp.Navigate(base),
			chromedp.WaitVisible(chromedp.CSS("#signin")),
			chromedp.SendKeys(chromedp.CSS("#name"), name),
			chromedp.SendKeys(chromedp.CSS("#secret"), secretOf(name)),
			chromedp.Click(chromedp.CSS("#signin-button")),
			chromedp.WaitVisible(chromedp.CSS(wait)),
		)
	}
	row := fmt.Sprintf(`tr[data-batch=%q]`, batch)
	otherRow := fmt.Sprintf(`tr[data-batch=%q]`, other)

	// An operator signs in: no Cancel for them on the page.
	signIn("ani", row)
	if who := text("#who"); who != "ani (operator)" {
		t.Fatalf("signed in as %q", who)
	}
	if got := text(row + " .batch-progress"); got != "0/4 printed" {
		t.Fatalf("new batch shows %q, want 0/4 printed", got)
	}
	if n := count(`a.cancel`); n != 0 {
		t.Fatalf("an operator's page shows %d Cancel buttons", n)
	}

	// Start; then only live updates (no reload) carry the progress to
	// 4/4: the marker set on the window survives only if the page is
	// never reloaded.
	step("press Start", 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS(row+" button.start")),
		chromedp.Click(chromedp.CSS(row+" button.start")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if flash := text("#flash"); flash != "Batch "+batch+" started." {
		t.Fatalf("after Start the page says %q", flash)
	}
	step("mark the page", 10*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool]("window.__notReloaded = true")(ctx, tg)
		return err
	}))
	step("watch the batch print 4/4 through live updates", 10*time.Minute,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === "4/4 printed"`, row+" .batch-progress"),
				chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(10*time.Minute))(ctx, tg)
			return err
		}),
	)
	notReloaded, err := chromedp.Run(bctx, chromedp.Evaluate[bool]("window.__notReloaded === true"))
	if err != nil || !notReloaded {
		t.Fatalf("the page was reloaded to show progress (%v); it should follow the live stream", err)
	}
	if got := text(row + " .batch-state"); got != "done" {
		t.Errorf("finished batch shows state %q, want done", got)
	}
	if n := count(row + " button"); n != 0 {
		t.Errorf("finished batch still has %d buttons", n)
	}
	step("sign out", 30*time.Second,
		chromedp.Click(chromedp.CSS("form.who button")),
		chromedp.WaitVisible(chromedp.CSS("#signin")),
	)

	// A supervisor cancels the other batch, with a reason.
	signIn("sari", otherRow)
	step("cancel the other batch with a reason", 30*time.Second,
		chromedp.Click(chromedp.CSS(otherRow+" a.cancel")),
		chromedp.WaitVisible(chromedp.CSS("#reason")),
		chromedp.SendKeys(chromedp.CSS("#reason"), "wrong district in the batch"),
		chromedp.Click(chromedp.CSS("#act-button")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if flash := text("#flash"); flash != "Batch "+other+" cancelled." {
		t.Fatalf("after the cancel the page says %q", flash)
	}

	// Destruction: the witness signs in on the same screen; the same
	// account as witness is refused, then ani witnesses.
	destroy := func(witness, secret string) {
		t.Helper()
		step("destroy witnessed by "+witness, 30*time.Second,
			chromedp.Navigate(base+"stock"),
			chromedp.WaitVisible(chromedp.CSS("#destroy")),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=quantity]`), "2"),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=record_ref]`), "BA-2026-11-30"),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_name]`), witness),
			chromedp.SendKeys(chromedp.CSS(`#destroy input[name=witness_secret]`), secret),
			chromedp.Click(chromedp.CSS("#destroy-button")),
			chromedp.WaitVisible(chromedp.CSS("#error, #flash")),
		)
	}
	destroy("sari", secretOf("sari"))
	if msg := text("#error"); !strings.Contains(msg, "someone else") {
		t.Fatalf("the same account as witness: the page says %q", msg)
	}
	destroy("ani", secretOf("ani"))
	if msg := text("#flash"); !strings.Contains(msg, "destroy by sari, witnessed by ani") {
		t.Fatalf("the destruction: the page says %q", msg)
	}
	if got := text("#spoiled-awaiting"); got != "0" {
		t.Errorf("spoiled awaiting destruction after it: %s", got)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "print-room.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// The station agrees, and the ledger names the people who signed in.
	st := s.status()
	if st.Batches[0].Printed != 4 || st.Batches[0].State != "done" || st.Batches[1].State != "cancelled" {
		t.Fatalf("station says batches %+v", st.Batches)
	}
	db := filepath.Join(s.dir, "state", "station.db")
	out, _ := ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv", "--log", "people")
	for _, want := range []string{"signed_in,ani,,,web", "action,ani,batch_start," + batch + ",web", "action,sari,batch_cancel," + other + ",web", "wrong district in the batch", "signed_out,ani,,,web"} {
		if !strings.Contains(out, want) {
			t.Errorf("people log lacks %q:\n%s", want, out)
		}
	}
	out, _ = ctl(t, s.sock, "audit", "export", "--db", db, "--format", "csv")
	if !strings.Contains(out, "destroyed,sari,") || !strings.Contains(out, "sari;ani") {
		t.Errorf("the destruction does not name sari and ani:\n%s", out)
	}
	if out, code := ctl(t, s.sock, "audit", "verify", "--db", db); code != 0 {
		t.Errorf("audit verify: exit %d\n%s", code, out)
	}
	checkLogHasNoPersonalKeys(t, s.daemon.stderr.String())
	if strings.Contains(s.daemon.stderr.String(), secretOf("ani")) {
		t.Error("a secret is in the daemon's log")
	}
	jsMu.Lock()
	defer jsMu.Unlock()
	if len(jsErrors) > 0 {
		t.Errorf("JavaScript errors on the page: %q", jsErrors)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
