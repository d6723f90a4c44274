// Package web is the local web page print-room staff use all day: the
// printers, the batches with Start/Pause/Resume/Cancel, the jobs that wait
// for a person, the stock and the central link, kept live over server-sent
// events.
//
// Staff sign in with their own account (name and password or PIN, checked
// by package accounts); the session is bound to that account, which the
// ledger records as the actor, and ends on sign-out, after idleness and
// when the account is disabled. The role table (accounts.Table) decides
// what each route allows, and the page shows only the buttons a role may
// press. Dual-control actions take the witness's sign-in on the same form.
// The page also guards against other web sites in the same browser (CSRF
// token on every POST, Origin and Host checks, SameSite=Strict cookie) and
// DNS rebinding (Host must be a loopback name, or one the TLS certificate
// names when the page listens on the LAN).
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station"
)

// Station is what the page needs of the engine (*station.Engine has it).
type Station interface {
	Batches(ctx context.Context) ([]station.BatchState, error)
	SetBatch(ctx context.Context, id, action, actor string) error
	AttentionList(ctx context.Context) ([]station.Attention, error)
	Confirm(ctx context.Context, job, actor string) (string, error)
	Spoil(ctx context.Context, job, actor string) error
	Retry(ctx context.Context, job, actor string) error
	ResumePrinter(name string) error
	Stock(ctx context.Context) (*station.StockState, error)
	Printers() []station.PrinterState
	Central() string
	Events() (chan station.Event, func())
	RecordStock(ctx context.Context, op station.StockOp) (inventory.Entry, error)
}

// Options tune the page.
type Options struct {
	// Station is the station id shown in the title.
	Station string
	Log     zerolog.Logger
	// Tick is how often the live stream nudges the page even without an
	// engine event (the central link's state changes without one).
	// Zero means 5 s.
	Tick time.Duration
	// Accounts signs people in. Required: without it no one can sign in.
	Accounts Accounts
	// Idle ends a signed-in session after this long without a person's
	// request (zero: DefaultIdle).
	Idle time.Duration
	// Hosts are the names, besides loopback ones, the page answers to:
	// the LAN address and the certificate's names when it listens on the
	// network with TLS.
	Hosts []string
}

//go:embed assets
var assets embed.FS

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{
	"pct": func(n, total int) int {
		if total <= 0 {
			return 0
		}
		return n * 100 / total
	},
}).ParseFS(assets, "assets/*.html"))

type handler struct {
	st       Station
	acc      Accounts
	opts     Options
	log      zerolog.Logger
	sessions *sessions
	mux      *http.ServeMux
}

// New returns the page's handler.
func New(st Station, opts Options) http.Handler {
	if opts.Tick <= 0 {
		opts.Tick = 5 * time.Second
	}
	h := &handler{st: st, acc: opts.Accounts, opts: opts, log: opts.Log.With().Str("component", "web").Logger(), mux: http.NewServeMux()}
	if h.acc == nil {
		h.acc = noAccounts{}
	}
	h.sessions = newSessions(opts.Idle, func(name, reason string) { h.logOut(context.Background(), name, reason) })
	static, _ := fs.Sub(assets, "assets")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /live", h.live)
	h.mux.HandleFunc("GET /events", h.events)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.HandleFunc("POST /signout", h.signout)
	h.mux.HandleFunc("POST /batch", h.batch)
	h.mux.HandleFunc("POST /attention", h.attention)
	h.mux.HandleFunc("POST /printer", h.printer)
	h.mux.HandleFunc("GET /act", h.act)
	h.mux.HandleFunc("GET /stock", h.stockPage)
	h.mux.HandleFunc("POST /stock", h.stock)
	h.mux.HandleFunc("GET /users", h.usersPage)
	h.mux.HandleFunc("POST /users", h.users)
	h.mux.HandleFunc("GET /desk/face", h.deskFace)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Everything the page uses is its own: no inline script, no CDN.
	hd.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cache-Control", "no-store")
	if !loopbackHost(r.Host) && !h.knownHost(r.Host) {
		// A page reached under another name is DNS rebinding or a
		// misconfigured proxy; neither may drive the printers.
		http.Error(w, "this page answers only on this computer (127.0.0.1 or localhost)", http.StatusMisdirectedRequest)
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		h.log.Warn().Str("path", r.URL.Path).Msg("POST from another origin refused")
		http.Error(w, "refused: this form was not sent from the print-room page itself", http.StatusForbidden)
		return
	}
	defer func() {
		// A bug must not show a stack to the print room; the server's
		// log names the path, and the page says what to do.
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.Error().Str("path", r.URL.Path).Str("panic", fmt.Sprint(v)).Msg("web handler failed")
			http.Error(w, "the page failed; reload it, and tell the technician if it happens again", http.StatusInternalServerError)
		}
	}()
	h.mux.ServeHTTP(w, r)
}

// loopbackHost says whether a Host header names this computer.
func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sameOrigin: a browser sends Origin on every POST; where it is missing
// (an old browser, privacy settings) the Referer must match instead.
// Tools without either still need the session's CSRF token.
func sameOrigin(r *http.Request) bool {
	own := []string{"http://" + r.Host, "https://" + r.Host}
	if o := r.Header.Get("Origin"); o != "" {
		return o == own[0] || o == own[1]
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		for _, p := range own {
			if ref == p || strings.HasPrefix(ref, p+"/") {
				return true
			}
		}
		return false
	}
	return true
}

// view is what the templates show.
type view struct {
	Station string
	S       *session
	Flash   string
	Error   string
	Live    *liveView
}

type liveView struct {
	Role      string
	Can       map[string]bool // permission → the session holds it
	CSRF      string
	Printers  []printerRow
	Batches   []station.BatchState
	Attention []station.Attention
	Stock     *station.StockState
	StockErr  string
	LoadErr   string
	Central   string
	Updated   string
}

type printerRow struct {
	station.PrinterState
	CanResume bool
	Desk      *deskRow // a desk-encoder printer's step (desk.go)
}

func (h *handler) loadLive(ctx context.Context, s *session) *liveView {
	lv := &liveView{Role: s.Role, Can: s.canMap(), CSRF: s.CSRF, Central: h.st.Central(), Updated: time.Now().Format("15:04:05")}
	stock, err := h.st.Stock(ctx)
	if err != nil {
		lv.StockErr = "stock could not be read: " + err.Error()
	} else {
		lv.Stock = stock
	}
	for _, p := range h.st.Printers() {
		row := printerRow{PrinterState: p, Desk: h.deskRow(p.Name)}
		if stock != nil {
			row.Loaded = stock.Printers[p.Name]
		}
		// The states the engine's worker waits in until someone resumes
		// it (offline also retries by itself).
		switch p.State {
		case "paused", "attention", "offline":
			row.CanResume = true
		}
		lv.Printers = append(lv.Printers, row)
	}
	var errs []string
	if lv.Batches, err = h.st.Batches(ctx); err != nil {
		errs = append(errs, "batches could not be read: "+err.Error())
	}
	if lv.Attention, err = h.st.AttentionList(ctx); err != nil {
		errs = append(errs, "jobs waiting for a person could not be read: "+err.Error())
	}
	lv.LoadErr = strings.Join(errs, "; ")
	return lv
}

func (h *handler) render(w http.ResponseWriter, code int, name string, data any) {
	var b strings.Builder
	if err := tmpl.ExecuteTemplate(&b, name, data); err != nil {
		h.log.Error().Err(err).Str("template", name).Msg("rendering the page failed")
		http.Error(w, "the page could not be drawn; reload it", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprint(w, b.String())
}

// page shows the sign-in form or, once signed in, the print room.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, true)
	if s == nil {
		s = h.sessions.create(w, r.TLS != nil, accounts.Account{})
	}
	h.showPage(w, r, s, http.StatusOK, "")
}

func (h *handler) showPage(w http.ResponseWriter, r *http.Request, s *session, code int, errMsg string) {
	v := view{Station: h.opts.Station, S: s, Error: errMsg, Flash: h.sessions.takeFlash(s)}
	if s.Name == "" {
		h.render(w, code, "signin.html", v)
		return
	}
	v.Live = h.loadLive(r.Context(), s)
	h.render(w, code, "page.html", v)
}

// live is the live part of the page alone; the page's script fetches it
// on every event.
func (h *handler) live(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, false)
	if s == nil || s.Name == "" {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	h.render(w, http.StatusOK, "live", h.loadLive(r.Context(), s))
}

// events streams a short note for each engine event (type and ids only);
// the page reloads its live part on each.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, false)
	if s == nil || s.Name == "" {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming not supported here; reload the page to see changes", http.StatusInternalServerError)
		return
	}
	c, cancel := h.st.Events()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	tick := time.NewTicker(h.opts.Tick)
	defer tick.Stop()
	for {
		var typ string
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-c:
			if !ok {
				return
			}
			typ = ev.Type
		case <-tick.C:
			typ = "tick"
			// The stream ends with its session (idle, disabled); the
			// page's script then reloads and shows the sign-in form.
			if h.current(r, false) == nil {
				return
			}
		}
		if _, err := fmt.Fprintf(w, "event: change\ndata: %s\n\n", sseSafe(typ)); err != nil {
			return
		}
		fl.Flush()
	}
}

// sseSafe keeps an event type on one line of the stream.
func sseSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// post checks the session and its CSRF token; it answers the request
// itself and returns nil when the POST may not go on.
func (h *handler) post(w http.ResponseWriter, r *http.Request, needName bool) *session {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "the form could not be read; reload the page and try again", http.StatusBadRequest)
		return nil
	}
	s := h.current(r, true)
	if s == nil || !s.checkCSRF(r.PostFormValue("csrf")) {
		h.log.Warn().Str("path", r.URL.Path).Msg("POST without a valid session token refused")
		h.render(w, http.StatusForbidden, "refused.html", refusal{Title: "Refused", Text: "This form is out of date or did not come from this page. Go back to the page, reload it, and try again."})
		return nil
	}
	if needName && s.Name == "" {
		h.render(w, http.StatusForbidden, "refused.html", refusal{Title: "Sign in first", Text: "Sign in with your name before you press a button: the station records who did what."})
		return nil
	}
	return s
}

type refusal struct {
	Title, Text string
}

// validName: a staff name as the ledger records it — printable, one line,
// not too long.
func validName(name string) error {
	if name == "" {
		return errors.New("write your name to sign in")
	}
	if len([]rune(name)) > 60 {
		return errors.New("the name is too long (at most 60 letters)")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return errors.New("the name has characters that cannot be recorded; use letters, spaces and dots")
		}
	}
	return nil
}

// validID: batch and job ids and printer names are short tokens; anything
// else is a broken or forged form.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

var batchActions = map[string]string{"start": "started", "pause": "paused", "resume": "resumed", "cancel": "cancelled"}

func (h *handler) batch(w http.ResponseWriter, r *http.Request) {
	s := h.post(w, r, true)
	if s == nil {
		return
	}
	id, action := r.PostFormValue("batch"), r.PostFormValue("action")
	done, ok := batchActions[action]
	if !ok {
		h.showPage(w, r, s, http.StatusBadRequest, "unknown batch action; use the Start, Pause, Resume or Cancel buttons")
		return
	}
	if !validID(id) {
		h.showPage(w, r, s, http.StatusBadRequest, "no batch chosen; use the buttons next to a batch")
		return
	}
	perm := accounts.BatchRun
	if action == "cancel" {
		perm = accounts.BatchCancel
	}
	if !h.allowed(w, s, perm, action+" a batch") {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := station.CheckReason(action, reason); err != nil {
		h.showPage(w, r, s, http.StatusBadRequest, "batch "+id+": "+err.Error())
		return
	}
	if err := h.st.SetBatch(r.Context(), id, action, s.Name); err != nil {
		h.failed(w, r, s, "batch "+id, action, err)
		return
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "batch_" + action, Subject: id, Reason: reason})
	h.log.Info().Str("batch", id).Str("action", action).Str("role", s.Role).Msg("batch action from the web page")
	h.sessions.setFlash(s, "Batch "+id+" "+done+".")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *handler) attention(w http.ResponseWriter, r *http.Request) {
	s := h.post(w, r, true)
	if s == nil {
		return
	}
	job, action := r.PostFormValue("job"), r.PostFormValue("action")
	if action != "confirm" && action != "spoil" && action != "retry" {
		h.showPage(w, r, s, http.StatusBadRequest, "unknown action for a waiting job; use the Confirm, Spoil or Retry buttons")
		return
	}
	if !validID(job) {
		h.showPage(w, r, s, http.StatusBadRequest, "no job chosen; use the buttons next to a waiting job")
		return
	}
	perm := accounts.JobRetry
	if action != "retry" {
		perm = accounts.JobDecide
	}
	if !h.allowed(w, s, perm, action+" a waiting job") {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := station.CheckReason(action, reason); err != nil {
		h.showPage(w, r, s, http.StatusBadRequest, "job "+job+": "+err.Error())
		return
	}
	var msg string
	switch action {
	case "confirm":
		uid, err := h.st.Confirm(r.Context(), job, s.Name)
		if err != nil {
			h.failed(w, r, s, "job "+job, action, err)
			return
		}
		msg = "Job " + job + ": card confirmed (chip " + uid + ")."
	case "spoil":
		if err := h.st.Spoil(r.Context(), job, s.Name); err != nil {
			h.failed(w, r, s, "job "+job, action, err)
			return
		}
		msg = "Job " + job + ": card spoiled; put it in the reject box. The job goes back to the queue."
	case "retry":
		if err := h.st.Retry(r.Context(), job, s.Name); err != nil {
			h.failed(w, r, s, "job "+job, action, err)
			return
		}
		msg = "Job " + job + " is back in the queue."
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "job_" + action, Job: job, Reason: reason})
	h.log.Info().Str("job", job).Str("action", action).Str("role", s.Role).Msg("job action from the web page")
	h.sessions.setFlash(s, msg)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *handler) printer(w http.ResponseWriter, r *http.Request) {
	s := h.post(w, r, true)
	if s == nil {
		return
	}
	name := r.PostFormValue("printer")
	if r.PostFormValue("action") != "resume" {
		h.showPage(w, r, s, http.StatusBadRequest, "unknown printer action; use the Resume button")
		return
	}
	if !validID(name) {
		h.showPage(w, r, s, http.StatusBadRequest, "no printer chosen; use the Resume button next to a printer")
		return
	}
	if !h.allowed(w, s, accounts.PrinterResume, "resume a printer") {
		return
	}
	known := false
	for _, p := range h.st.Printers() {
		known = known || p.Name == name
	}
	if !known {
		h.showPage(w, r, s, http.StatusNotFound, fmt.Sprintf("no printer named %q on this station; use the Resume button next to a printer", name))
		return
	}
	if err := h.st.ResumePrinter(name); err != nil {
		h.failed(w, r, s, "printer "+name, "resume", err)
		return
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "printer_resume", Printer: name})
	h.log.Info().Str("printer", name).Str("role", s.Role).Msg("printer resumed from the web page")
	h.sessions.setFlash(s, "Printer "+name+" resumed.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// failed shows the engine's refusal on the page with a status that says
// what kind it was; the engine's messages name the thing and what to do.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, s *session, what, action string, err error) {
	code := http.StatusConflict
	if errors.Is(err, station.ErrNoBatch) || errors.Is(err, jobqueue.ErrNotFound) {
		code = http.StatusNotFound
	}
	h.log.Warn().Err(err).Str("target", what).Str("action", action).Msg("web action refused")
	h.showPage(w, r, s, code, fmt.Sprintf("%s: %s was not done: %v", what, action, err))
}
