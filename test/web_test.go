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
// real daemon, printer simulator, central simulator and virtual chip: an
// operator signs in, starts the batch and watches it print through the
// page's live updates, and is refused a supervisor's action.
func TestWebPage(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s here; make test installs it (scripts/deps.sh)", chromiumPath)
		}
		t.Fatalf("CI needs Chromium at %s: %v", chromiumPath, err)
	}
	requirePcscd(t)
	s := newE2E(t, e2eOpts{jobs: 6, batch: 6, printers: 1, vicc: true, web: true})
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
	row := fmt.Sprintf(`tr[data-batch=%q]`, batch)

	// Sign in as an operator.
	step("sign in", 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#signin")),
		chromedp.SendKeys(chromedp.CSS("#name"), "Sari Operator"),
		chromedp.Click(chromedp.CSS(`input[name=role][value=operator]`)),
		chromedp.Click(chromedp.CSS("#signin-button")),
		chromedp.WaitVisible(chromedp.CSS(row)),
	)
	if who := text("#who"); who != "Sari Operator (operator)" {
		t.Fatalf("signed in as %q", who)
	}
	if got := text(row + " .batch-progress"); got != "0/6 printed" {
		t.Fatalf("new batch shows %q, want 0/6 printed", got)
	}
	if got := text(row + " .batch-state"); got != "new" {
		t.Fatalf("batch state %q before Start, want new", got)
	}

	// An operator may not cancel a batch: the page says a supervisor must,
	// and the batch is untouched.
	step("press Cancel as an operator", 30*time.Second,
		chromedp.Click(chromedp.CSS(row+" button.cancel")),
		chromedp.WaitVisible(chromedp.CSS("section.refused")),
	)
	if msg := text("section.refused"); !strings.Contains(msg, "A supervisor must do this") || !strings.Contains(msg, "Only a supervisor may cancel a batch") {
		t.Fatalf("operator's cancel shows %q, want the supervisor-only refusal", msg)
	}
	if st := s.status().Batches[0].State; st != "new" {
		t.Fatalf("after the operator's refused cancel the batch is %s", st)
	}

	// Back to the page; Start; then only live updates (no reload) carry
	// the progress to 6/6: the marker set on the window survives only if
	// the page is never reloaded.
	step("press Start", 30*time.Second,
		chromedp.Navigate(base),
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
	step("watch the batch print 6/6 through live updates", 10*time.Minute,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Poll[bool](fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === "6/6 printed"`, row+" .batch-progress"),
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
	if got := text(`tr[data-printer="p1"]`); !strings.Contains(got, "p1") {
		t.Errorf("printer row: %q", got)
	}
	// A finished batch offers no Cancel.
	if n, _ := chromedp.Run(bctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, row+" button"))); n != 0 {
		t.Errorf("finished batch still has %d buttons", n)
	}

	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(t.TempDir(), "print-room.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// The station agrees: 6 printed, the operator's name on the start.
	st := s.status()
	if st.Batches[0].Printed != 6 || st.Batches[0].State != "done" {
		t.Fatalf("station says batch %+v", st.Batches[0])
	}
	log := s.daemon.stderr.String()
	if !strings.Contains(log, `"actor":"Sari Operator"`) {
		t.Errorf("the daemon did not record the operator's name as the actor of the start")
	}
	checkLogHasNoPersonalKeys(t, log)
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
