package web

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station"
)

// fakeStation records what the page asked of the engine.
type fakeStation struct {
	mu        sync.Mutex
	calls     []string // "method id action actor"
	batches   []station.BatchState
	attention []station.Attention
	printers  []station.PrinterState
	stock     *station.StockState
	central   station.CentralLink
	events    chan station.Event
	found     []station.FoundJob
	story     *station.JobStory
	err       error // returned by the next action
	// Reports to the centre (stockops_test.go).
	sent, requests []station.CentreReport
}

func newFake() *fakeStation {
	return &fakeStation{
		batches: []station.BatchState{
			{ID: "B-001", State: "new", Total: 6},
			{ID: "B-002", State: "started", Total: 10, Printed: 4, Remaining: 6},
			{ID: "B-003", State: "paused", Total: 5, Printed: 1, Remaining: 4},
		},
		attention: []station.Attention{
			{Job: "J-77", Batch: "B-002", State: "uncertain", Printer: "p1", Code: station.WaitStuckAtExit, Reason: "card for this job is stuck at the exit: take it out, then confirm it if it is good or spoil it"},
			{Job: "J-78", Batch: "B-002", State: "attention", Printer: "p2", Code: station.WaitAttemptsExhausted, Reason: "3 blanks spoiled"},
		},
		printers: []station.PrinterState{
			{Name: "p1", State: "printing", Job: "J-12", Printed: 4, Spoiled: 1},
			{Name: "p2", State: "paused", Code: station.PrinterJam, Message: "print front: print panel y: card jam [CARD JAM] — then resume: printstationctl printer resume p2"},
		},
		stock:   &station.StockState{Storage: 40, Printers: map[string]int64{"p1": 17, "p2": 3}, Consumed: 5, Low: true, Available: 60, LowAt: 100, PerDay: 0.2, ForecastDays: 7, DaysLeft: 300},
		central: station.CentralLink{State: "down", Failures: 3},
		events:  make(chan station.Event, 8),
	}
}

func (f *fakeStation) record(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	return f.err
}

func (f *fakeStation) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeStation) Batches(context.Context) ([]station.BatchState, error) { return f.batches, nil }
func (f *fakeStation) SetBatch(_ context.Context, id, action, actor string) error {
	known := false
	for _, b := range f.batches {
		known = known || b.ID == id
	}
	if !known {
		return fmt.Errorf("batch %q: %w (printstationctl batch list shows the batches on this station)", id, station.ErrNoBatch)
	}
	return f.record("batch " + id + " " + action + " " + actor)
}
func (f *fakeStation) AttentionList(context.Context) ([]station.Attention, error) {
	return f.attention, nil
}
func (f *fakeStation) Confirm(_ context.Context, job, actor string) (string, error) {
	return "04A1B2C3D4E5F6", f.record("confirm " + job + " " + actor)
}
func (f *fakeStation) Spoil(_ context.Context, job, actor string) error {
	return f.record("spoil " + job + " " + actor)
}
func (f *fakeStation) Retry(_ context.Context, job, actor string) error {
	return f.record("retry " + job + " " + actor)
}
func (f *fakeStation) ResumePrinter(name string) error {
	if name != "p1" && name != "p2" {
		return fmt.Errorf("no printer named %q on this station", name)
	}
	return f.record("resume " + name)
}
func (f *fakeStation) Stock(context.Context) (*station.StockState, error) { return f.stock, nil }
func (f *fakeStation) Printers() []station.PrinterState                   { return f.printers }
func (f *fakeStation) CentralLink() station.CentralLink                   { return f.central }
func (f *fakeStation) FindJobs(_ context.Context, text string) (string, []station.FoundJob, error) {
	if err := f.record("find"); err != nil {
		return "", nil, err
	}
	if _, err := jobqueue.NormalizeNIK(text); err == nil {
		return station.ByNIK, f.found, nil
	}
	if len(text) < 3 {
		return station.ByName, nil, jobqueue.ErrShortName
	}
	return station.ByName, f.found, nil
}
func (f *fakeStation) Story(_ context.Context, job string) (*station.JobStory, error) {
	if f.story == nil || f.story.Job.ID != job {
		return nil, fmt.Errorf("job %s: %w", job, jobqueue.ErrNotFound)
	}
	return f.story, nil
}
func (f *fakeStation) Preview(_ context.Context, job string) ([]byte, error) {
	if f.story == nil || f.story.Job.ID != job {
		return nil, fmt.Errorf("job %s: %w", job, jobqueue.ErrNotFound)
	}
	if !f.story.HasData {
		return nil, fmt.Errorf("job %s: %w", job, jobqueue.ErrPurged)
	}
	return []byte("\x89PNG fake"), nil
}
func (f *fakeStation) Today(context.Context, time.Time) ([]station.FoundJob, error) {
	return f.found, nil
}
func (f *fakeStation) RecordStock(_ context.Context, op station.StockOp) (inventory.Entry, error) {
	return inventory.Entry{Seq: 7}, f.record(fmt.Sprintf("stock %s %d %s witnesses=%s approvers=%s", op.Op, op.Quantity, op.Actor,
		strings.Join(op.Witnesses, ","), strings.Join(op.Approvers, ",")))
}
func (f *fakeStation) Shift(context.Context, time.Time, time.Time) (*inventory.Period, error) {
	return &inventory.Period{Consumed: 12, Spoiled: map[string]int64{"jam": 2},
		Printers: []inventory.PrinterPeriod{{Printer: "p1", Opening: 20, Consumed: 12, Spoiled: map[string]int64{"jam": 2}, Closing: 6}}}, nil
}
func (f *fakeStation) Events() (chan station.Event, func()) {
	return f.events, func() {}
}

// client is a browser in miniature: it keeps the session cookie, sends
// the page's own Origin and reads the CSRF token off each page.
type client struct {
	t       *testing.T
	acc     *testAccounts
	h       http.Handler
	cookie  *http.Cookie
	lang    *http.Cookie
	csrf    string
	accept  string // Accept-Language
	referer string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) *httptest.ResponseRecorder {
	c.t.Helper()
	req.Host = "127.0.0.1:8080"
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.lang != nil {
		req.AddCookie(c.lang)
	}
	if c.accept != "" {
		req.Header.Set("Accept-Language", c.accept)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		switch ck.Name {
		case cookieName:
			c.cookie = ck
		case langCookie:
			c.lang = ck
		}
	}
	if m := csrfRe.FindStringSubmatch(rec.Body.String()); m != nil {
		c.csrf = m[1]
	}
	return rec
}

func (c *client) get(path string) *httptest.ResponseRecorder {
	c.t.Helper()
	return c.do(httptest.NewRequest("GET", path, nil))
}

// post sends form values with the session's token unless the form sets
// its own csrf.
func (c *client) post(path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", c.csrf)
	}
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://127.0.0.1:8080")
	return c.do(req)
}

func newClient(t *testing.T, st Station) *client {
	acc := newAccounts(t)
	return &client{t: t, acc: acc, h: New(st, Options{Station: "ST-TEST-01", Log: zerolog.Nop(), Accounts: acc.Store}), accept: "en-GB,en;q=0.8"}
}

// Roles as the tests write them.
var (
	Operator   = string(accounts.Operator)
	Supervisor = string(accounts.Supervisor)
)

// signedIn makes an account name with role (its secret is secretOf(name))
// in a new page's accounts, signs in and follows the redirect.
func signedIn(t *testing.T, st Station, name, role string) *client {
	t.Helper()
	c := newClient(t, st)
	c.acc.add(name, role)
	return c.signIn(name, role)
}

func (c *client) signIn(name, role string) *client {
	t := c.t
	t.Helper()
	if rec := c.get("/"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Sign in") {
		t.Fatalf("first visit: %d, want the sign-in form:\n%s", rec.Code, rec.Body)
	}
	rec := c.post("/signin", url.Values{"name": {"  " + name + " "}, "secret": {secretOf(name)}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("sign in: %d\n%s", rec.Code, rec.Body)
	}
	if rec := c.get("/"); rec.Code != 200 || !strings.Contains(rec.Body.String(), html.EscapeString(name)+" ("+role+")") {
		t.Fatalf("after sign-in the page does not say who is signed in: %d\n%s", rec.Code, rec.Body)
	}
	return c
}

// next is the page a POST redirected to, as the browser shows it.
func (c *client) next(rec *httptest.ResponseRecorder) string {
	c.t.Helper()
	if rec.Code != http.StatusSeeOther {
		c.t.Fatalf("POST answered %d, want 303 (POST-redirect-GET):\n%s", rec.Code, rec.Body)
	}
	return c.get(rec.Header().Get("Location")).Body.String()
}

func TestSessionCookieFlags(t *testing.T) {
	c := newClient(t, newFake())
	c.get("/")
	if c.cookie == nil || !c.cookie.HttpOnly || c.cookie.SameSite != http.SameSiteStrictMode {
		t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Strict", c.cookie)
	}
	before := c.cookie.Value
	c.acc.add("Sari", Operator)
	c.post("/signin", url.Values{"name": {"Sari"}, "secret": {secretOf("Sari")}})
	if c.cookie.Value == before {
		t.Fatal("sign-in kept the anonymous session id; a planted cookie would become a signed-in one")
	}
}

func TestPageShowsStation(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari Wulandari", Operator)
	body := c.get("/").Body.String()
	for _, want := range []string{
		`<html lang="en">`, "ST-TEST-01",
		"B-001", `value="start"`, // a new batch can be started
		`value="pause"`, `value="resume"`,
		`<progress max="10" value="4"`, "4 of 10 printed",
		"Printer p1", "Printing", "J-12",
		// The printer's jam in words and with the button, no driver text.
		"A card is stuck. Open the printer cover", "Resume printer p2",
		`<dd id="stock-storage">40</dd>`, "In printer p2", "Stock is below the station&#39;s minimum (100 cards; now 60)",
		"about 300 days", "about 0.2 cards a day",
		"Job J-77", "stopped at the exit of printer p1", "The card is good", "The card is bad or cannot be found",
		"Only a supervisor may decide", "Retry",
		"Unreachable (3 failed tries)",
		`aria-live="polite"`, `id="conn"`,
		`src="/static/app.js"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, bad := range []string{"printstationctl", "[CARD JAM]", "print panel", "confirm it if it is good or spoil", "-1 days"} {
		if strings.Contains(body, bad) {
			t.Errorf("page shows %q", bad)
		}
	}
	// An operator is not offered what only a supervisor may do.
	for _, bad := range []string{`value="cancel"`, `value="confirm"`, `value="spoil"`} {
		if strings.Contains(body, bad) {
			t.Errorf("operator's page offers %s", bad)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	// The printer's blanks come from the ledger; printed and spoiled from the engine.
	if !regexp.MustCompile(`(?s)data-printer="p1".*?class="printed">4<.*?class="spoiled">1<.*?class="loaded">17<`).MatchString(body) {
		t.Errorf("printer p1 does not show printed 4, spoiled 1, 17 blanks in")
	}
	// No external assets.
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("page refers to an outside address")
	}
	live := c.get("/live")
	if live.Code != 200 || !strings.Contains(live.Body.String(), "B-002") || strings.Contains(live.Body.String(), "<html") {
		t.Fatalf("/live: %d, want the live fragment only:\n%s", live.Code, live.Body)
	}
}

// Supervisors see Confirm and Spoil as two different kinds of button,
// each after its explanation, and every button names its batch or job.
func TestSupervisorButtons(t *testing.T) {
	c := signedIn(t, newFake(), "Rina", Supervisor)
	body := c.get("/").Body.String()
	good := strings.Index(body, "The card is good")
	confirm := strings.Index(body, `class="button confirm"`)
	bad := strings.Index(body, "The card is bad")
	spoil := strings.Index(body, `class="button spoil"`)
	if good < 0 || confirm < 0 || bad < 0 || spoil < 0 || !(good < confirm && confirm < bad && bad < spoil) {
		t.Errorf("explanations and buttons out of order: good %d confirm %d bad %d spoil %d", good, confirm, bad, spoil)
	}
	btn := regexp.MustCompile(`(?s)<(?:button name="action" value="(\w+)"|a href="/act\?[^"]*action=(?:\w+)")[^>]*>(.*?)</(?:button|a)>`)
	tag := regexp.MustCompile(`<[^>]+>`)
	n := 0
	for _, m := range btn.FindAllStringSubmatch(body, -1) {
		n++
		text := tag.ReplaceAllString(m[2], "")
		if len(m) > 2 {
			text = tag.ReplaceAllString(m[len(m)-1], "")
		}
		if !regexp.MustCompile(`(batch B-\d+|job J-\d+|printer p\d)`).MatchString(text) {
			t.Errorf("button %s is named %q, without its batch, job or printer", m[1], text)
		}
	}
	if n < 7 {
		t.Errorf("found %d action buttons, want at least 7", n)
	}
}

func TestIndonesianFirst(t *testing.T) {
	f := newFake()
	c := newClient(t, f)
	c.accept = ""
	body := c.get("/").Body.String()
	if !strings.Contains(body, `<html lang="id">`) || !strings.Contains(body, "Nama Anda") || !strings.Contains(body, "Masuk") {
		t.Fatalf("without Accept-Language the sign-in is not in Indonesian:\n%s", body)
	}
	c.acc.add("Sari", Operator)
	c.next(c.post("/signin", url.Values{"name": {"Sari"}, "secret": {secretOf("Sari")}}))
	body = c.get("/").Body.String()
	for _, want := range []string{"Ruang Cetak", "Mulai", "4 dari 10 dicetak", "Kartu macet.", "Lanjutkan printer p2", "Menunggu petugas",
		"Tidak terjangkau (3 kali gagal)", "sekitar 0,2 kartu sehari", "Stok di bawah batas minimum"} {
		if !strings.Contains(body, want) {
			t.Errorf("Indonesian page lacks %q", want)
		}
	}
	// A station whose ledger the centre has not confirmed says printing
	// waits or is held, in place of "printing goes on from the queue".
	for state, want := range map[string]string{
		"waiting": "pencetakan menunggu sampai pusat memastikan buku besar",
		"held":    "Pencetakan ditahan: basis data stasiun ini tidak melanjutkan",
		"offline": "Mencetak tanpa konfirmasi pusat, diizinkan oleh supervisor",
	} {
		f.central.Ledger = state
		body := c.get("/").Body.String()
		if !strings.Contains(body, want) || strings.Contains(body, "Pencetakan tetap berjalan") {
			t.Errorf("ledger %s: the page does not say %q, or says printing goes on", state, want)
		}
	}
	f.central.Ledger = ""
	// Accept-Language: en switches; the switch on the page beats it.
	c.accept = "en-US,en;q=0.9"
	if body := c.get("/").Body.String(); !strings.Contains(body, `<html lang="en">`) || !strings.Contains(body, "4 of 10 printed") {
		t.Errorf("Accept-Language en not followed")
	}
	c.next(c.post("/lang", url.Values{"lang": {"id"}, "back": {"/today"}}))
	if body := c.get("/").Body.String(); !strings.Contains(body, `<html lang="id">`) {
		t.Errorf("the language switch did not win over Accept-Language")
	}
	// The station's default when the browser asks for neither.
	c2 := &client{t: t, h: New(f, Options{Log: zerolog.Nop(), Language: "en", Accounts: c.acc.Store}), accept: "fr-FR"}
	if body := c2.get("/").Body.String(); !strings.Contains(body, `<html lang="en">`) {
		t.Errorf("[web] language = en not followed")
	}
}

func TestActions(t *testing.T) {
	tests := []struct {
		name, role, path string
		form             url.Values
		want             string // the engine call
		flash            string
	}{
		{"start", Operator, "/batch", url.Values{"batch": {"B-001"}, "action": {"start"}}, "batch B-001 start Sari", "Batch B-001 started."},
		{"pause", Operator, "/batch", url.Values{"batch": {"B-002"}, "action": {"pause"}}, "batch B-002 pause Sari", "Batch B-002 paused."},
		{"resume", Operator, "/batch", url.Values{"batch": {"B-003"}, "action": {"resume"}}, "batch B-003 resume Sari", "Batch B-003 resumed."},
		{"cancel", Supervisor, "/batch", url.Values{"batch": {"B-002"}, "action": {"cancel"}, "reason": {"wrong district"}}, "batch B-002 cancel Sari", "Batch B-002 cancelled."},
		{"confirm", Supervisor, "/attention", url.Values{"job": {"J-77"}, "action": {"confirm"}, "reason": {"chip read back"}}, "confirm J-77 Sari", "Job J-77: card confirmed, its chip was checked."},
		{"spoil", Supervisor, "/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"smudged"}}, "spoil J-77 Sari", "Job J-77: card spoiled"},
		{"retry", Operator, "/attention", url.Values{"job": {"J-78"}, "action": {"retry"}}, "retry J-78 Sari", "Job J-78 is back in the queue."},
		{"resume printer", Operator, "/printer", url.Values{"printer": {"p2"}, "action": {"resume"}}, "resume p2", "Printer p2 resumed."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			c := signedIn(t, f, "Sari", tt.role)
			rec := c.post(tt.path, tt.form)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
				t.Fatalf("%s: %d, want a redirect to the page:\n%s", tt.name, rec.Code, rec.Body)
			}
			if got := f.Calls(); len(got) != 1 || got[0] != tt.want {
				t.Fatalf("engine calls %q, want [%q]", got, tt.want)
			}
			page := c.get("/").Body.String()
			if !strings.Contains(page, tt.flash) {
				t.Errorf("the page after %s does not say %q", tt.name, tt.flash)
			}
			if strings.Contains(c.get("/").Body.String(), tt.flash) {
				t.Errorf("the message %q stays on the page after the next refresh", tt.flash)
			}
			if got := f.Calls(); len(got) != 1 {
				t.Errorf("reloading the page repeated the action: %q", got)
			}
		})
	}
}

func TestOperatorRefusedSupervisorActions(t *testing.T) {
	for _, tt := range []struct {
		path string
		form url.Values
		what string
	}{
		{"/batch", url.Values{"batch": {"B-002"}, "action": {"cancel"}, "reason": {"x"}}, "cancel a batch"},
		{"/attention", url.Values{"job": {"J-77"}, "action": {"confirm"}, "reason": {"x"}}, "confirm an uncertain card"},
		{"/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"x"}}, "spoil an uncertain card"},
	} {
		f := newFake()
		c := signedIn(t, f, "Budi", Operator)
		page := c.next(c.post(tt.path, tt.form))
		if !strings.Contains(page, "Your account may not do this. It needs the role supervisor") || !strings.Contains(page, `role="alert"`) {
			t.Errorf("operator %s %s: the page does not say a supervisor may %s:\n%s", tt.path, tt.form.Get("action"), tt.what, page)
		}
		if calls := f.Calls(); len(calls) != 0 {
			t.Errorf("operator's %s reached the engine: %q", tt.form.Get("action"), calls)
		}
	}
}

func TestForgedPostsRefused(t *testing.T) {
	start := url.Values{"batch": {"B-001"}, "action": {"start"}}
	tests := []struct {
		name   string
		mutate func(r *http.Request, form url.Values)
		code   int
	}{
		{"no token", func(r *http.Request, f url.Values) { f.Set("csrf", "") }, http.StatusForbidden},
		{"wrong token", func(r *http.Request, f url.Values) { f.Set("csrf", "AAAA") }, http.StatusForbidden},
		{"other origin", func(r *http.Request, f url.Values) { r.Header.Set("Origin", "http://evil.example") }, http.StatusForbidden},
		{"other referer", func(r *http.Request, f url.Values) {
			r.Header.Del("Origin")
			r.Header.Set("Referer", "http://127.0.0.1:8080.evil.example/")
		}, http.StatusForbidden},
		{"rebinding host", func(r *http.Request, f url.Values) { r.Host = "printroom.evil.example:8080" }, http.StatusMisdirectedRequest},
		{"no session", func(r *http.Request, f url.Values) { r.Header.Del("Cookie") }, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			c := signedIn(t, f, "Sari", Supervisor)
			form := url.Values{}
			for k, v := range start {
				form[k] = v
			}
			form.Set("csrf", c.csrf)
			req := httptest.NewRequest("POST", "/batch", nil)
			req.Host = "127.0.0.1:8080"
			req.Header.Set("Origin", "http://127.0.0.1:8080")
			req.AddCookie(c.cookie)
			tt.mutate(req, form)
			req.Body = io.NopCloser(strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			c.h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Errorf("%s: %d, want %d:\n%s", tt.name, rec.Code, tt.code, rec.Body)
			}
			if calls := f.Calls(); len(calls) != 0 {
				t.Errorf("forged POST reached the engine: %q", calls)
			}
		})
	}
}

func TestSignInNeedsToken(t *testing.T) {
	c := newClient(t, newFake())
	c.get("/")
	rec := c.post("/signin", url.Values{"name": {"Sari"}, "role": {"operator"}, "csrf": {"forged"}})
	if rec.Code != http.StatusForbidden {
		t.Fatalf("sign-in with a forged token: %d, want 403", rec.Code)
	}
}

// Bad input is refused with a note on the page it came from; the answer
// is a redirect, so F5 never sends it again.
func TestBadInput(t *testing.T) {
	tests := []struct {
		name, path string
		form       url.Values
		msg        string
	}{
		{"unknown batch", "/batch", url.Values{"batch": {"B-999"}, "action": {"start"}}, "Batch B-999 is not on this station."},
		{"wrong action", "/batch", url.Values{"batch": {"B-001"}, "action": {"explode"}}, "Unknown batch action"},
		{"no batch", "/batch", url.Values{"action": {"start"}}, "No batch chosen"},
		{"batch with newline", "/batch", url.Values{"batch": {"B-001\nX"}, "action": {"start"}}, "No batch chosen"},
		{"wrong job action", "/attention", url.Values{"job": {"J-77"}, "action": {"print"}}, "Unknown action"},
		{"no job", "/attention", url.Values{"action": {"retry"}}, "No job chosen"},
		{"unknown printer", "/printer", url.Values{"printer": {"p9"}, "action": {"resume"}}, "There is no printer named p9 on this station."},
		{"wrong printer action", "/printer", url.Values{"printer": {"p1"}, "action": {"reset"}}, "Unknown printer action"},
		{"back elsewhere", "/batch", url.Values{"action": {"start"}, "back": {"//evil.example/"}}, "No batch chosen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			c := signedIn(t, f, "Sari", Supervisor)
			rec := c.post(tt.path, tt.form)
			if loc := rec.Header().Get("Location"); loc != "/" {
				t.Errorf("redirected to %q, want /", loc)
			}
			page := c.next(rec)
			if !strings.Contains(page, tt.msg) || !strings.Contains(page, `id="error"`) {
				t.Fatalf("the page does not say %q:\n%s", tt.msg, page)
			}
			if !strings.Contains(page, `id="live"`) {
				t.Error("the page with the error lacks the print room")
			}
		})
	}
}

func TestEngineRefusalShown(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari", Supervisor)
	f.err = fmt.Errorf("job J-77 is printed: %w", station.ErrNotWaiting)
	page := c.next(c.post("/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"checked by hand"}}))
	if !strings.Contains(page, "Job J-77 does not wait for a person (someone may have handled it already)") {
		t.Fatalf("not-waiting refusal not worded:\n%s", page)
	}
	f.err = fmt.Errorf("%w of printer p1: hold the card of job J-77 to it, then confirm again", station.ErrNoCardAtEncoder)
	page = c.next(c.post("/attention", url.Values{"job": {"J-77"}, "action": {"confirm"}, "reason": {"checked by hand"}}))
	if !strings.Contains(page, "Job J-77: no card at the chip reader. Hold the card to the printer&#39;s chip reader") {
		t.Fatalf("no-card refusal not worded:\n%s", page)
	}
	// An error the page has no words for: said plainly, the engine's text
	// folded away for the technician, without the shell command.
	f.err = errors.New("moving the card to the reject box: printer timeout (printstationctl printer resume p1)")
	page = c.next(c.post("/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"checked by hand"}}))
	if !strings.Contains(page, "Job J-77: not done, the station refused.") || !strings.Contains(page, "<details>") ||
		!strings.Contains(page, "moving the card to the reject box: printer timeout") || strings.Contains(page, "printstationctl") {
		t.Fatalf("unknown refusal:\n%s", page)
	}
}

func TestSignInBadInput(t *testing.T) {
	for _, tt := range []struct {
		name, secret, msg string
	}{
		{"", "123456", "Write your name to sign in."},
		{"   ", "123456", "Write your name to sign in."},
		{"Sari", "", "Write your password or PIN to sign in."},
		{strings.Repeat("a", 61), "123456", "The name is too long"},
		{"Sari\x00", "123456", "The name has characters that cannot be recorded"},
		{"Sari", "wrong-secret", "Sign-in refused: wrong name or secret."},
		{"Nobody", secretOf("Sari"), "Sign-in refused: wrong name or secret."},
	} {
		c := newClient(t, newFake())
		c.acc.add("Sari", Operator)
		c.get("/")
		page := c.next(c.post("/signin", url.Values{"name": {tt.name}, "secret": {tt.secret}}))
		if !strings.Contains(page, tt.msg) || !strings.Contains(page, `action="/signin"`) {
			t.Errorf("sign in %q: want %q and the form again:\n%s", tt.name, tt.msg, page)
		}
	}
}

func TestActionsNeedSignIn(t *testing.T) {
	f := newFake()
	c := newClient(t, f)
	c.get("/")
	rec := c.post("/batch", url.Values{"batch": {"B-001"}, "action": {"start"}})
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "Sign in first") {
		t.Fatalf("%d:\n%s", rec.Code, rec.Body)
	}
	if len(f.Calls()) != 0 {
		t.Fatal("an anonymous POST reached the engine")
	}
	for _, p := range []string{"/live", "/job/J-1/face.png"} {
		if rec := c.get(p); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s before sign-in: %d, want 401", p, rec.Code)
		}
	}
	for _, p := range []string{"/search", "/today", "/report", "/job/J-1"} {
		if rec := c.get(p); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/" {
			t.Errorf("%s before sign-in: %d, want a redirect to the sign-in", p, rec.Code)
		}
	}
}

func TestSignOut(t *testing.T) {
	c := signedIn(t, newFake(), "Sari", Operator)
	if rec := c.post("/signout", url.Values{}); rec.Code != http.StatusSeeOther {
		t.Fatalf("sign out: %d", rec.Code)
	}
	if body := c.get("/").Body.String(); !strings.Contains(body, `action="/signin"`) {
		t.Fatalf("after sign-out the page is not the sign-in form:\n%s", body)
	}
}

func TestEscaping(t *testing.T) {
	f := newFake()
	f.batches = []station.BatchState{{ID: `B"><script>alert(1)</script>`, State: "new", Total: 1}}
	f.printers[1].Name = `<img src=x onerror=alert(2)>`
	c := signedIn(t, f, `<i>Sari</i>`, Operator)
	body := c.get("/").Body.String()
	for _, bad := range []string{"<script>alert(1)", "<img src=x", "<i>Sari</i>"} {
		if strings.Contains(body, bad) {
			t.Errorf("page carries %q unescaped", bad)
		}
	}
	for _, good := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(2)&gt;", "&lt;i&gt;Sari&lt;/i&gt;"} {
		if !strings.Contains(body, good) {
			t.Errorf("page lacks the escaped %q", good)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	c := newClient(t, newFake())
	for path, ctype := range map[string]string{"/static/app.js": "javascript", "/static/style.css": "text/css"} {
		rec := c.get(path)
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Content-Type"), ctype) || rec.Body.Len() == 0 {
			t.Errorf("%s: %d %s", path, rec.Code, rec.Header().Get("Content-Type"))
		}
	}
	// No directory listing, no templates, nothing outside.
	for _, p := range []string{"/static/", "/static", "/static/page.html", "/static/templates/page.html", "/static/../web.go", "/static/.hidden.css"} {
		if rec := c.get(p); rec.Code != http.StatusNotFound && rec.Code/100 != 3 {
			t.Errorf("%s: %d, want 404:\n%s", p, rec.Code, rec.Body)
		} else if strings.Contains(rec.Body.String(), ".html") {
			t.Errorf("%s lists files: %s", p, rec.Body)
		}
	}
	if rec := c.get("/"); !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("page served without a self-only content security policy")
	}
	css := c.get("/static/style.css").Body.String()
	for _, want := range []string{"@media print", "@media (max-width: 40rem)"} {
		if !strings.Contains(css, want) {
			t.Errorf("style.css lacks %s", want)
		}
	}
}

// TestEventsStream follows the live stream as the page's script does: a
// heartbeat at once and on every beat, an engine event as a change note.
func TestEventsStream(t *testing.T) {
	f := newFake()
	acc := newAccounts(t)
	acc.add("Sari", Operator)
	c2 := signedInOn(t, New(f, Options{Log: zerolog.Nop(), Beat: 20 * time.Millisecond, Accounts: acc.Store}), "Sari", Operator)
	srv := httptest.NewServer(c2.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	req.AddCookie(c2.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	beats := 0
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "event: beat" {
			beats++
			if beats == 3 {
				f.events <- station.Event{Type: "card_printed", Printer: "p1", Job: "J-12"}
			}
		}
		if sc.Text() == "data: card_printed" {
			return
		}
	}
	t.Fatalf("stream ended without beats and the card_printed change: %q", lines)
}

func signedInOn(t *testing.T, h http.Handler, name, role string) *client {
	t.Helper()
	c := &client{t: t, h: h, accept: "en"}
	c.get("/")
	c.next(c.post("/signin", url.Values{"name": {name}, "secret": {secretOf(name)}}))
	return c
}

func TestEventsNeedSignIn(t *testing.T) {
	c := newClient(t, newFake())
	if rec := c.get("/events"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("/events without a session: %d, want 401", rec.Code)
	}
}

func TestStockWords(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari", Operator)
	// A new station: nothing used yet, no estimate (never "-1 days").
	f.stock = &station.StockState{Storage: 500, Printers: map[string]int64{}, Available: 500}
	body := c.get("/live").Body.String()
	if !strings.Contains(body, "No use yet to estimate") || strings.Contains(body, "low-stock") || strings.Contains(body, "last about") || strings.Contains(body, "about -1") {
		t.Errorf("new station's stock:\n%s", body)
	}
	// Plenty at a slow pace but below the minimum: both said, with why.
	f.stock = &station.StockState{Storage: 343, Printers: map[string]int64{}, Available: 343, Low: true, LowAt: 500, PerDay: 1, ForecastDays: 7, DaysLeft: 343}
	body = c.get("/live").Body.String()
	if !strings.Contains(body, "below the station&#39;s minimum (500 cards; now 343)") || !strings.Contains(body, "the minimum leaves time for the delivery") ||
		!strings.Contains(body, "last about 343 days") {
		t.Errorf("low stock with a long forecast:\n%s", body)
	}
}

func TestSearchAndStory(t *testing.T) {
	f := newFake()
	at := time.Date(2026, 11, 30, 9, 15, 0, 0, time.Local)
	f.found = []station.FoundJob{{JobMeta: jobqueue.JobMeta{ID: "J-500", Batch: "B-002", State: jobqueue.Printed, ReceivedAt: at, UpdatedAt: at}, Printer: "p1"}}
	f.story = &station.JobStory{Job: f.found[0], HasData: true, Steps: []station.StoryStep{
		{At: at, Kind: "received"},
		{At: at.Add(time.Minute), Kind: "spoiled", Printer: "p1", Reason: "jam"},
		{At: at.Add(2 * time.Minute), Kind: "printed", Printer: "p2", Actor: "Rina"},
		{At: at.Add(3 * time.Minute), Kind: "reported"},
	}}
	c := signedIn(t, f, "Sari", Operator)
	c.accept = ""
	const nik = "3201 2345 6789 0001"
	rec := c.post("/search", url.Values{"q": {nik}})
	if loc := rec.Header().Get("Location"); rec.Code != http.StatusSeeOther || loc != "/search" {
		t.Fatalf("search: %d to %q, want 303 to /search (no NIK in the address)", rec.Code, loc)
	}
	page := c.get("/search").Body.String()
	for _, want := range []string{"1 pekerjaan untuk NIK ini.", `href="/job/J-500"`, "Sudah dicetak", "30 Nov 2026 09.15"} {
		if !strings.Contains(page, want) {
			t.Errorf("search results lack %q", want)
		}
	}
	page = c.get("/job/J-500").Body.String()
	for _, want := range []string{"Diterima dari server pusat", "Kartu rusak di printer p1", "kartu macet", "Kartu dicetak di printer p2", "oleh Rina",
		"Dilaporkan ke server pusat", `href="/job/J-500?face=1"`} {
		if !strings.Contains(page, want) {
			t.Errorf("job story lacks %q", want)
		}
	}
	if strings.Contains(page, `src="/job/J-500/face.png"`) {
		t.Error("the face is drawn before anyone asked for it")
	}
	if page := c.get("/job/J-500?face=1").Body.String(); !strings.Contains(page, `src="/job/J-500/face.png"`) {
		t.Error("the face preview is not shown when asked for")
	}
	img := c.get("/job/J-500/face.png")
	if img.Code != 200 || img.Header().Get("Content-Type") != "image/png" || img.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("face: %d %q %q", img.Code, img.Header().Get("Content-Type"), img.Header().Get("Cache-Control"))
	}
	if rec := c.get("/job/J-404"); rec.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d", rec.Code)
	}
	f.story.HasData = false
	if rec := c.get("/job/J-500/face.png"); rec.Code != http.StatusNotFound {
		t.Errorf("face of a purged job: %d", rec.Code)
	}
	// A short name is refused with words.
	c.next(c.post("/search", url.Values{"q": {"ab"}}))
	if page := c.get("/search").Body.String(); !strings.Contains(page, "Tulis paling sedikit 3 huruf nama.") {
		t.Errorf("short name:\n%s", page)
	}
}

func TestTodayAndReport(t *testing.T) {
	f := newFake()
	f.found = []station.FoundJob{{JobMeta: jobqueue.JobMeta{ID: "J-500", Batch: "B-002", State: jobqueue.Printed}}, {JobMeta: jobqueue.JobMeta{ID: "J-501", Batch: "B-002", State: jobqueue.Queued}}}
	c := signedIn(t, f, "Sari", Operator)
	page := c.get("/today").Body.String()
	for _, want := range []string{"2 jobs received or changed today.", "J-501", "In the queue", `aria-current="page"`} {
		if !strings.Contains(page, want) {
			t.Errorf("today lacks %q", want)
		}
	}
	page = c.get("/report").Body.String()
	for _, want := range []string{"Shift report", `id="report-printed">12<`, `id="report-spoiled">2<`, "card jam", "data-print", "Signatures"} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestServeRefusesNetworkAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", "192.168.1.10:8080", ":8080"} {
		err := Serve(context.Background(), addr, http.NotFoundHandler())
		if !errors.Is(err, ErrNotLoopback) {
			t.Errorf("Serve(%q): %v, want ErrNotLoopback", addr, err)
		}
	}
	if err := Serve(context.Background(), "8080", http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "127.0.0.1:8080") {
		t.Errorf("Serve without a port: %v, want a hint", err)
	}
}

func TestServeStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, "127.0.0.1:0", http.NotFoundHandler()) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
}

func TestSessionsCapped(t *testing.T) {
	ss := newSessions(0, nil)
	for range maxSessions + 50 {
		ss.create(httptest.NewRecorder(), false, accounts.Account{})
	}
	if n := len(ss.m); n > maxSessions {
		t.Fatalf("%d sessions held, want at most %d", n, maxSessions)
	}
}
