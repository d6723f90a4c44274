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
	central   string
	events    chan station.Event
	err       error // returned by the next action
}

func newFake() *fakeStation {
	return &fakeStation{
		batches: []station.BatchState{
			{ID: "B-001", State: "new", Total: 6},
			{ID: "B-002", State: "started", Total: 10, Printed: 4, Remaining: 6},
			{ID: "B-003", State: "paused", Total: 5, Printed: 1, Remaining: 4},
		},
		attention: []station.Attention{
			{Job: "J-77", Batch: "B-002", State: "uncertain", Printer: "p1", Reason: "daemon stopped mid-card"},
			{Job: "J-78", Batch: "B-002", State: "attention", Printer: "p2", Reason: "3 blanks spoiled"},
		},
		printers: []station.PrinterState{
			{Name: "p1", State: "printing", Job: "J-12", Printed: 4, Spoiled: 1},
			{Name: "p2", State: "paused", Message: "printer p2: card jam at print head — open the cover, remove the card, press Resume"},
		},
		stock:   &station.StockState{Storage: 40, Printers: map[string]int64{"p1": 17, "p2": 3}, Consumed: 5, Low: true},
		central: "connected, last pull 3s ago",
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
func (f *fakeStation) Central() string                                    { return f.central }
func (f *fakeStation) Events() (chan station.Event, func()) {
	return f.events, func() {}
}
func (f *fakeStation) RecordStock(_ context.Context, op station.StockOp) (inventory.Entry, error) {
	return inventory.Entry{Seq: 7}, f.record(fmt.Sprintf("stock %s %d %s witnesses=%s approvers=%s", op.Op, op.Quantity, op.Actor,
		strings.Join(op.Witnesses, ","), strings.Join(op.Approvers, ",")))
}

// client is a browser in miniature: it keeps the session cookie, sends
// the page's own Origin and reads the CSRF token off each page.
type client struct {
	t      *testing.T
	acc    *testAccounts
	h      http.Handler
	cookie *http.Cookie
	csrf   string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) do(req *http.Request) *httptest.ResponseRecorder {
	c.t.Helper()
	req.Host = "127.0.0.1:8080"
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == cookieName {
			c.cookie = ck
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
	return &client{t: t, acc: acc, h: New(st, Options{Station: "ST-TEST-01", Log: zerolog.Nop(), Accounts: acc.Store})}
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
		"ST-TEST-01",
		"B-001", `value="start"`, // a new batch can be started
		`value="pause"`, `value="resume"`,
		`<progress max="10" value="4">`, "4/10 printed",
		"p1", "printing", "J-12",
		"card jam at print head — open the cover, remove the card, press Resume",
		"Storage: <b id=\"stock-storage\">40</b>", "p2: <b>3</b>", "LOW STOCK",
		"J-77", "daemon stopped mid-card", "A supervisor decides.", "Retry",
		"connected, last pull 3s ago",
		`src="/static/app.js"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
	// The printer's blanks come from the ledger.
	if !regexp.MustCompile(`<td>p1</td><td>printing</td><td>J-12</td><td>4</td><td>1</td><td>17</td>`).MatchString(body) {
		t.Errorf("printer p1's row does not show printed 4, spoiled 1, 17 blanks in:\n%s", body)
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
		{"confirm", Supervisor, "/attention", url.Values{"job": {"J-77"}, "action": {"confirm"}, "reason": {"chip read back"}}, "confirm J-77 Sari", "card confirmed (chip 04A1B2C3D4E5F6)"},
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
		})
	}
}

func TestOperatorRefusedSupervisorActions(t *testing.T) {
	for _, tt := range []struct {
		path string
		form url.Values
	}{
		{"/batch", url.Values{"batch": {"B-002"}, "action": {"cancel"}, "reason": {"x"}}},
		{"/attention", url.Values{"job": {"J-77"}, "action": {"confirm"}, "reason": {"x"}}},
		{"/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"x"}}},
	} {
		f := newFake()
		c := signedIn(t, f, "Budi", Operator)
		rec := c.post(tt.path, tt.form)
		if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "It needs the role supervisor") {
			t.Errorf("operator %s %s: %d, want 403 saying a supervisor must do it:\n%s", tt.path, tt.form.Get("action"), rec.Code, rec.Body)
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
	rec := c.post("/signin", url.Values{"name": {"Sari"}, "secret": {"123456"}, "csrf": {"forged"}})
	if rec.Code != http.StatusForbidden {
		t.Fatalf("sign-in with a forged token: %d, want 403", rec.Code)
	}
}

func TestBadInput(t *testing.T) {
	tests := []struct {
		name, path string
		form       url.Values
		code       int
		msg        string
	}{
		{"unknown batch", "/batch", url.Values{"batch": {"B-999"}, "action": {"start"}}, 404, "batch B-999: start was not done: batch &#34;B-999&#34;: no such batch"},
		{"wrong action", "/batch", url.Values{"batch": {"B-001"}, "action": {"explode"}}, 400, "unknown batch action; use the Start, Pause, Resume or Cancel buttons"},
		{"no batch", "/batch", url.Values{"action": {"start"}}, 400, "no batch chosen"},
		{"batch with newline", "/batch", url.Values{"batch": {"B-001\nX"}, "action": {"start"}}, 400, "no batch chosen"},
		{"wrong job action", "/attention", url.Values{"job": {"J-77"}, "action": {"print"}}, 400, "unknown action for a waiting job"},
		{"no job", "/attention", url.Values{"action": {"retry"}}, 400, "no job chosen"},
		{"unknown printer", "/printer", url.Values{"printer": {"p9"}, "action": {"resume"}}, 404, "no printer named &#34;p9&#34; on this station"},
		{"wrong printer action", "/printer", url.Values{"printer": {"p1"}, "action": {"reset"}}, 400, "unknown printer action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake()
			c := signedIn(t, f, "Sari", Supervisor)
			rec := c.post(tt.path, tt.form)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.msg) {
				t.Fatalf("%d, want %d with %q:\n%s", rec.Code, tt.code, tt.msg, rec.Body)
			}
			// The message shows on the whole page, which still works.
			if !strings.Contains(rec.Body.String(), `id="live"`) {
				t.Error("the error page lacks the print room")
			}
		})
	}
}

func TestEngineRefusalShown(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari", Supervisor)
	f.err = fmt.Errorf("job J-77 is printed: %w", station.ErrNotWaiting)
	rec := c.post("/attention", url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"smudged"}})
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "job J-77: spoil was not done: job J-77 is printed: job does not wait for a person") {
		t.Fatalf("%d:\n%s", rec.Code, rec.Body)
	}
	f.err = fmt.Errorf("job J-1: %w", jobqueue.ErrNotFound)
	if rec := c.post("/attention", url.Values{"job": {"J-1"}, "action": {"retry"}}); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown job: %d, want 404", rec.Code)
	}
}

func TestSignInBadInput(t *testing.T) {
	for _, tt := range []struct {
		name, secret string
		code         int
		msg          string
	}{
		{"", "123456", 400, "write your name to sign in"},
		{"   ", "123456", 400, "write your name to sign in"},
		{"Sari", "", 400, "write your password or PIN"},
		{strings.Repeat("a", 61), "123456", 400, "the name is too long"},
		{"Sari\x00", "123456", 400, "the name has characters that cannot be recorded"},
		{"Sari", "wrong-secret", 401, "wrong name or secret"},
		{"Nobody", secretOf("Sari"), 401, "wrong name or secret"},
	} {
		c := newClient(t, newFake())
		c.acc.add("Sari", Operator)
		c.get("/")
		rec := c.post("/signin", url.Values{"name": {tt.name}, "secret": {tt.secret}})
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.msg) || !strings.Contains(rec.Body.String(), `action="/signin"`) {
			t.Errorf("sign in %q: %d, want %d with %q and the form again:\n%s", tt.name, rec.Code, tt.code, tt.msg, rec.Body)
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
	if rec := c.get("/live"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("/live before sign-in: %d, want 401", rec.Code)
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
	f.printers[1].Message = `<img src=x onerror=alert(2)>`
	f.central = `unreachable (<b>tls</b>)`
	c := signedIn(t, f, `<i>Sari</i>`, Operator)
	body := c.get("/").Body.String()
	for _, bad := range []string{"<script>alert(1)", "<img src=x", "<b>tls</b>", "<i>Sari</i>"} {
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
	if rec := c.get("/"); !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
		t.Error("page served without a self-only content security policy")
	}
}

// TestEventsStream follows the live stream as the page's script does: an
// engine event arrives as a change note.
func TestEventsStream(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari", Operator)
	srv := httptest.NewServer(c.h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	req.AddCookie(c.cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("/events: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	f.events <- station.Event{Type: "card_printed", Printer: "p1", Job: "J-12"}
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if sc.Text() == "data: card_printed" {
			return
		}
	}
	t.Fatalf("stream ended without the card_printed change: %q", lines)
}

func TestEventsNeedSignIn(t *testing.T) {
	c := newClient(t, newFake())
	if rec := c.get("/events"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("/events without a session: %d, want 401", rec.Code)
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
