package test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser is a real Chromium driven through chromedp against a running
// daemon's page, with the steps every browser test uses (TestWebPage, the
// auditor's and technician's screens): bounded steps that show the page and
// the daemon's log on failure, evaluation, polling, a screenshot plus
// axe-core on each screen, the language switch and the sign-in.
type browser struct {
	t     *testing.T
	s     *e2e
	ctx   context.Context
	base  string // http://HOST:PORT/
	shots string
	axeJS []byte

	mu       sync.Mutex
	jsErrors []string
}

// newBrowser starts Chromium for s's page, asking for the languages in
// acceptLang (a regency office's computer asks for "id-ID,id"). It skips
// the test where Chromium is missing outside CI.
func newBrowser(t *testing.T, s *e2e, acceptLang string) *browser {
	t.Helper()
	needChromium(t)
	axeJS, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	if err != nil {
		t.Fatalf("axe-core is vendored in test/testdata/axe: %v", err)
	}
	b := &browser{t: t, s: s, base: "http://" + s.web + "/", shots: screenshotDir(t), axeJS: axeJS}
	t.Logf("screenshots in %s", b.shots)
	lang := strings.Split(acceptLang, ",")[0]
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("lang", lang),
		chromedp.Flag("accept-lang", acceptLang),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			b.mu.Lock()
			b.jsErrors = append(b.jsErrors, fmt.Sprintf("%s (%s:%d)", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber))
			b.mu.Unlock()
		}
	}))
	t.Cleanup(cancelBrowser)
	b.ctx = bctx
	// The first Run starts the browser and must not carry a deadline; each
	// step gets its own.
	if err := chromedp.Do(bctx, chromedp.Navigate(b.base)); err != nil {
		t.Fatalf("Chromium could not open %s: %v", b.base, err)
	}
	return b
}

// needChromium skips a browser test where Chromium is missing, outside CI
// (call it first, before starting the daemon and the simulators).
func needChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s here; make test installs it (scripts/deps.sh)", chromiumPath)
		}
		t.Fatalf("CI needs Chromium at %s: %v", chromiumPath, err)
	}
}

// step runs actions within a bound; on failure it shows the page and the
// daemon's log.
func (b *browser) step(what string, within time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, within)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
		b.t.Fatalf("%s: %v\npage:\n%s\ndaemon log tail:\n%s", what, err, html, tail(b.s.daemon.stderr.String(), 3000))
	}
}

func (b *browser) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluating %.80s: %v", expr, err)
	}
	return v
}

func (b *browser) poll(what, cond string, within time.Duration) {
	b.t.Helper()
	b.step(what, within+5*time.Second, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Poll[bool](cond, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(within))(ctx, tg)
		return err
	}))
}

// until waits (bounded) for cond through page loads: a navigation during
// one evaluation is retried, not a failure.
func (b *browser) until(what, cond string, within time.Duration) {
	b.t.Helper()
	end := time.Now().Add(within)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(end) {
			html, _ := chromedp.Run(b.ctx, chromedp.OuterHTML(chromedp.CSS("body")))
			b.t.Fatalf("%s: not within %s (%v)\npage:\n%s", what, within, err, html)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return v
}

// check takes the screen's screenshot and runs axe-core on it: every
// WCAG 2 level A/AA violation fails the test.
func (b *browser) check(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), shot, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if b.eval(`typeof axe`) != "object" {
		b.eval(string(b.axeJS) + `; "loaded"`)
	}
	out := b.eval(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}, resultTypes: ["violations"]})
		.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 4).map(n => n.target.join(" ") + " — " + n.failureSummary)}))))`)
	var vs []struct {
		ID, Impact, Help string
		Nodes            []string
	}
	if err := json.Unmarshal([]byte(out), &vs); err != nil {
		b.t.Fatalf("axe on %s: %v: %s", name, err, out)
	}
	for _, v := range vs {
		b.t.Errorf("%s: axe %s (%s): %s\n  %s", name, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n  "))
	}
}

// lang presses the page's language switch.
func (b *browser) lang(code string) {
	b.t.Helper()
	b.step("switch the page to "+code, 30*time.Second,
		click("#lang-"+code),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`html[lang=%q] #lang-%s[aria-pressed=true]`, code, code))),
	)
}

// signIn signs in on the sign-in form (secretOf(name)).
func (b *browser) signIn(name, role string) {
	b.t.Helper()
	b.step("sign in as "+role, 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#signin")),
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#secret"), secretOf(name)),
		click("#signin-button"),
		chromedp.WaitVisible(chromedp.CSS("#live")),
	)
}

// errors are the JavaScript exceptions the pages threw.
func (b *browser) errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.jsErrors...)
}

// download presses what starts a download (a button of a form) and returns
// the file's bytes once the browser has saved it.
func (b *browser) download(what string, press ...chromedp.Action[chromedp.Void]) []byte {
	b.t.Helper()
	dir := b.t.TempDir()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	if _, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptrTo(true)}); err != nil {
		b.t.Fatalf("%s: allowing downloads: %v", what, err)
	}
	b.step(what, 30*time.Second, press...)
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("%s: no finished download: %v", what, err)
		}
		switch ev.State {
		case cdpbrowser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(dir, ev.GUID))
			if err != nil {
				b.t.Fatalf("%s: %v", what, err)
			}
			return data
		case cdpbrowser.DownloadProgressStateCanceled:
			b.t.Fatalf("%s: the browser cancelled the download", what)
		}
	}
	b.t.Fatalf("%s: the download did not finish", what)
	return nil
}

// printPDF prints the page as the browser's print dialog would on A4
// (the page's own @page size wins where it sets one).
func (b *browser) printPDF(what string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	pdf, err := chromedp.Run(ctx, chromedp.PrintToPDF(chromedp.PDFPaper(chromedp.PaperA4), chromedp.PDFPreferCSSPageSize()))
	if err != nil {
		b.t.Fatalf("%s: print to PDF: %v", what, err)
	}
	return pdf
}

func ptrTo[T any](v T) *T { return &v }

// click presses the element sel the way chromedp.Click does, again when the
// browser answers "Could not find node with given id": chromedp finds the
// node, then asks for its box (scroll into view, content quads) before it
// sends any mouse event; a document that finished loading in between (the
// page after a POST-redirect-GET) makes the node's id stale. That answer
// comes before the mouse events (chromedp's nodeCenter, then
// MouseClickXY), so no click was delivered and pressing again cannot press
// twice. Any other error is returned at once; five tries at most.
func click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		var err error
		for try := 0; try < 5; try++ {
			if _, err = chromedp.Click(chromedp.CSS(sel))(ctx, tg); err == nil || !strings.Contains(err.Error(), "Could not find node with given id") {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(200 * time.Millisecond):
			}
		}
		return err
	})
}
