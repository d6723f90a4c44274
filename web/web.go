// Package web is the local web page print-room staff use all day, in
// Bahasa Indonesia first and English second: the printers with a big clear
// state each, the jobs that wait for a person with what to do, the batches
// with Start/Pause/Resume/Cancel, the stock and the central link, kept live
// over server-sent events with a heartbeat (a lost station shows at once);
// finding a citizen's job by NIK, job id or name, its whole story and face
// preview; the queue of the day and a printable shift report.
//
// The page listens on loopback only (Serve refuses anything else). What it
// guards against is other web sites in the same browser (CSRF token on
// every POST, Origin and Host checks, SameSite=Strict cookie) and DNS
// rebinding (Host must be a loopback name). Every POST answers with a
// redirect (POST-redirect-GET), so reloading a page never repeats an
// action; the outcome shows once as a note.
//
// Words: every string a person reads is in the catalogs under locales/
// (see i18n.go for how to add one). The engine hands over codes (printer
// and waiting-job codes, states, spoil reasons), never sentences, and the
// page words them; the CLI keeps the engine's English with its commands.
package web

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net"
	"net/http"
	"path"
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
	CentralLink() station.CentralLink
	Events() (chan station.Event, func())
	FindJobs(ctx context.Context, text string) (string, []station.FoundJob, error)
	Story(ctx context.Context, job string) (*station.JobStory, error)
	Preview(ctx context.Context, job string) ([]byte, error)
	Today(ctx context.Context, since time.Time) ([]station.FoundJob, error)
	Shift(ctx context.Context, from, to time.Time) (*inventory.Period, error)
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
	// Beat is the live stream's heartbeat: the page declares the station
	// lost when none arrives for three beats. Zero means 2 s.
	Beat time.Duration
	// Language is the station's default ([web] language): "id" or "en".
	Language string
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// Accounts signs people in. Required: without it no one can sign in.
	Accounts Accounts
	// Idle ends a signed-in session after this long without a person's
	// request (zero: DefaultIdle).
	Idle time.Duration
	// Hosts are the names, besides loopback ones, the page answers to:
	// the LAN address and the certificate's names when it listens on the
	// network with TLS.
	Hosts []string
	// AuditDB is the station database opened read-only for the auditor's
	// screens (/audit...); nil: those screens say they cannot read it.
	AuditDB *sql.DB
	// Office is the office's name and place for the destruction record
	// ([web] office); empty: the station id.
	Office string
	// WitnessKey is the centre's cosigning key (central.witness_key):
	// with it the page verifies the centre's cosignatures.
	WitnessKey string
}

//go:embed assets
var assets embed.FS

// tmpl holds the parsed templates; each request clones them with its
// language's functions (placeholders here).
var tmpl = template.Must(template.New("").Funcs(funcsFor(newLang("id", nil))).ParseFS(assets, "assets/templates/*.html"))

type handler struct {
	st       Station
	acc      Accounts
	opts     Options
	log      zerolog.Logger
	sessions *sessions
	notes    *notes
	queries  *queries
	mux      *http.ServeMux
	// One translator and one template set per language, made once: a
	// page is drawn without cloning or parsing anything.
	langs map[string]*lang
	tmpls map[string]*template.Template
	// spoiled carries the spoiled cards' replay on between views (audit.go).
	spoiled spoilCache
	// once remembers the one-use tokens of the forms already sent (once.go).
	once onceForms
}

// New returns the page's handler.
func New(st Station, opts Options) http.Handler {
	if opts.Tick <= 0 {
		opts.Tick = 5 * time.Second
	}
	if opts.Beat <= 0 {
		opts.Beat = 2 * time.Second
	}
	if !ok(opts.Language) {
		opts.Language = Languages[0]
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	h := &handler{st: st, acc: opts.Accounts, opts: opts, log: opts.Log.With().Str("component", "web").Logger(), notes: newNotes(), queries: newQueries(), mux: http.NewServeMux(),
		langs: map[string]*lang{}, tmpls: map[string]*template.Template{}}
	if h.acc == nil {
		h.acc = noAccounts{}
	}
	h.sessions = newSessions(opts.Idle, func(name, reason string) { h.logOut(context.Background(), name, reason) })
	for _, code := range Languages {
		l := newLang(code, func(id string, err error) {
			h.log.Error().Str("message_id", id).Err(err).Msg("page message missing from the catalog")
		})
		h.langs[code] = l
		h.tmpls[code] = template.Must(tmpl.Clone()).Funcs(funcsFor(l))
	}
	h.mux.HandleFunc("GET /static/{file}", h.static)
	h.mux.HandleFunc("GET /{$}", h.page)
	h.mux.HandleFunc("GET /live", h.live)
	h.mux.HandleFunc("GET /events", h.events)
	h.mux.HandleFunc("GET /search", h.searchPage)
	h.mux.HandleFunc("POST /search", h.search)
	h.mux.HandleFunc("GET /job/{id}", h.jobPage)
	h.mux.HandleFunc("GET /job/{id}/face.png", h.face)
	h.mux.HandleFunc("GET /today", h.todayPage)
	h.mux.HandleFunc("GET /report", h.reportPage)
	h.mux.HandleFunc("POST /signin", h.signin)
	h.mux.HandleFunc("POST /signout", h.signout)
	h.mux.HandleFunc("POST /lang", h.setLang)
	h.mux.HandleFunc("POST /batch", h.batch)
	h.mux.HandleFunc("POST /attention", h.attention)
	h.mux.HandleFunc("POST /printer", h.printer)
	h.mux.HandleFunc("GET /act", h.act)
	h.mux.HandleFunc("GET /stock", h.gatedPage(accounts.StockControl, h.showStock))
	h.mux.HandleFunc("POST /stock", h.stock)
	h.mux.HandleFunc("GET /users", h.gatedPage(accounts.ManageUsers, h.showUsers))
	h.mux.HandleFunc("POST /users", h.users)
	h.mux.HandleFunc("GET /desk/face", h.deskFace)
	h.techRoutes()  // tech.go: printer health and diagnostics
	h.auditRoutes() // audit.go: the auditor's read-only screens
	h.stockRoutes() // stockops.go: stock operations, announcement, requests for blanks
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Everything the page uses is its own: no inline script, no CDN.
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	// no-store also keeps the face preview out of the browser's disk cache.
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "same-origin")
	l := h.langOf(r, nil)
	if !loopbackHost(r.Host) && !h.knownHost(r.Host) {
		// A page reached under another name is DNS rebinding or a
		// misconfigured proxy; neither may drive the printers.
		http.Error(w, l.T("err_not_loopback"), http.StatusMisdirectedRequest)
		return
	}
	if r.Method == http.MethodPost && !sameOrigin(r) {
		h.log.Warn().Str("path", r.URL.Path).Msg("POST from another origin refused")
		http.Error(w, l.T("err_other_origin"), http.StatusForbidden)
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
			http.Error(w, l.T("err_page_failed"), http.StatusInternalServerError)
		}
	}()
	h.mux.ServeHTTP(w, r)
}

// static serves the page's own files, one by name: no directory listing
// (the templates are not under /static/ at all).
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if name == "" || strings.ContainsAny(name, "/\\") || strings.HasPrefix(name, ".") {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(assets, path.Join("assets/static", name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	switch path.Ext(name) {
	case ".css":
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case ".js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		http.NotFound(w, r)
		return
	}
	w.Write(b)
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

// langOf is the request's language (see pickLang). The session argument is
// where a signed-in person's stored preference will come from once
// accounts keep one; today the switch's cookie carries it.
func (h *handler) langOf(r *http.Request, s *session) *lang {
	return h.langs[pickLang(r, "", h.opts.Language)]
}

// render draws a template in l's language.
func (h *handler) render(w http.ResponseWriter, l *lang, code int, name string, data any) {
	var b strings.Builder
	if err := h.tmpls[l.Code].ExecuteTemplate(&b, name, data); err != nil {
		h.log.Error().Err(err).Str("template", name).Msg("rendering the page failed")
		http.Error(w, l.T("err_page_draw"), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", l.Code)
	w.WriteHeader(code)
	fmt.Fprint(w, b.String())
}

// page shows the sign-in form or, once signed in, the print room.
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, true)
	if s == nil {
		s = h.sessions.create(w, r.TLS != nil, accounts.Account{})
	}
	l := h.langOf(r, s)
	v := h.frame(r, l, s, "home")
	if s.Name == "" {
		h.render(w, l, http.StatusOK, "signin.html", v)
		return
	}
	v.Live = h.loadLive(r.Context(), l, s)
	h.render(w, l, http.StatusOK, "page.html", v)
}

// live is the live part of the page alone; the page's script fetches it
// on every event.
func (h *handler) live(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, false)
	l := h.langOf(r, s)
	if s == nil || s.Name == "" {
		http.Error(w, l.T("err_sign_in_first"), http.StatusUnauthorized)
		return
	}
	h.render(w, l, http.StatusOK, "live", h.loadLive(r.Context(), l, s))
}

// events streams a short note for each engine event (type only) and a
// heartbeat; the page reloads its live part on each note and declares the
// station lost when the heartbeat stops.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, false)
	if s == nil || s.Name == "" {
		http.Error(w, h.langOf(r, s).T("err_sign_in_first"), http.StatusUnauthorized)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, h.langOf(r, s).T("err_no_stream"), http.StatusInternalServerError)
		return
	}
	c, cancel := h.st.Events()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 2000\n\nevent: beat\ndata: %d\n\n", h.opts.Beat.Milliseconds())
	fl.Flush()
	tick := time.NewTicker(h.opts.Tick)
	defer tick.Stop()
	beat := time.NewTicker(h.opts.Beat)
	defer beat.Stop()
	for {
		var msg string
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-c:
			if !ok {
				return
			}
			msg = "event: change\ndata: " + sseSafe(ev.Type) + "\n\n"
		case <-tick.C:
			msg = "event: change\ndata: tick\n\n"
			// The stream ends with its session (idle, disabled); the
			// page's script then reloads and shows the sign-in form.
			if h.current(r, false) == nil {
				return
			}
		case <-beat.C:
			msg = fmt.Sprintf("event: beat\ndata: %d\n\n", h.opts.Beat.Milliseconds())
		}
		if _, err := fmt.Fprint(w, msg); err != nil {
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
func (h *handler) post(w http.ResponseWriter, r *http.Request, needName bool) (*session, *lang) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	l := h.langOf(r, nil)
	if err := r.ParseForm(); err != nil {
		http.Error(w, l.T("err_form_unreadable"), http.StatusBadRequest)
		return nil, l
	}
	s := h.current(r, true)
	l = h.langOf(r, s)
	if s == nil || !s.checkCSRF(r.PostFormValue("csrf")) {
		// Answered in place, not redirected: there is no session to carry
		// a note, and sending the same stale form again is refused again.
		h.log.Warn().Str("path", r.URL.Path).Msg("POST without a valid session token refused")
		h.render(w, l, http.StatusForbidden, "refused.html", refusal{Lang: l.Code, Title: l.T("refused_title"), Text: l.T("refused_stale_form")})
		return nil, l
	}
	if needName && s.Name == "" {
		h.render(w, l, http.StatusForbidden, "refused.html", refusal{Lang: l.Code, Title: l.T("refused_sign_in_title"), Text: l.T("refused_sign_in_text")})
		return nil, l
	}
	return s, l
}

type refusal struct {
	Lang, Title, Text string
}

// done ends an action: the note for the next page view, then a redirect
// to where the person was (POST-redirect-GET: F5 shows, never repeats).
func (h *handler) done(w http.ResponseWriter, r *http.Request, s *session, n note) {
	h.notes.put(s.id, n)
	http.Redirect(w, r, backTo(r), http.StatusSeeOther)
}

// backTo is the page a form came from: a path on this site only.
func backTo(r *http.Request) string {
	b := r.PostFormValue("back")
	if b == "" || !strings.HasPrefix(b, "/") || strings.HasPrefix(b, "//") || strings.ContainsAny(b, "\\\r\n") {
		return "/"
	}
	return b
}

// validName: a staff name as the ledger records it — printable, one line,
// not too long. It returns a message id.
func validName(name string) string {
	if name == "" {
		return msg("signin_err_no_name")
	}
	if len([]rune(name)) > 60 {
		return msg("signin_err_long_name")
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return msg("signin_err_bad_name")
		}
	}
	return ""
}

// setLang is the language switch: the choice is kept in a cookie for this
// browser (a year), before and after signing in.
func (h *handler) setLang(w http.ResponseWriter, r *http.Request) {
	s, _ := h.post(w, r, false)
	if s == nil {
		return
	}
	code := r.PostFormValue("lang")
	if !ok(code) {
		code = h.opts.Language
	}
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: code, Path: "/", MaxAge: 365 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, backTo(r), http.StatusSeeOther)
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

var batchActions = map[string]string{"start": msg("batch_started"), "pause": msg("batch_paused"), "resume": msg("batch_resumed"), "cancel": msg("batch_cancelled")}

func (h *handler) batch(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, true)
	if s == nil {
		return
	}
	id, action := r.PostFormValue("batch"), r.PostFormValue("action")
	doneID, known := batchActions[action]
	switch {
	case !known:
		h.done(w, r, s, note{Err: true, Text: l.T("err_batch_action")})
		return
	case !validID(id):
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_batch_chosen")})
		return
	}
	perm := accounts.BatchRun
	if action == "cancel" {
		perm = accounts.BatchCancel
	}
	if !h.allowed(w, r, s, l, perm) {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := station.CheckReason(action, reason); err != nil {
		h.done(w, r, s, note{Err: true, Text: l.T("err_reason_needed", "What", l.T("target_batch", "ID", id))})
		return
	}
	if err := h.st.SetBatch(r.Context(), id, action, s.Name); err != nil {
		h.failed(w, r, s, l, l.T("target_batch", "ID", id), err)
		return
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "batch_" + action, Subject: id, Reason: reason})
	h.log.Info().Str("batch", id).Str("action", action).Str("role", s.Role).Msg("batch action from the web page")
	h.done(w, r, s, note{Text: l.T(doneID, "ID", id)})
}

func (h *handler) attention(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, true)
	if s == nil {
		return
	}
	job, action := r.PostFormValue("job"), r.PostFormValue("action")
	switch {
	case action != "confirm" && action != "spoil" && action != "retry":
		h.done(w, r, s, note{Err: true, Text: l.T("err_job_action")})
		return
	case !validID(job):
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_job_chosen")})
		return
	}
	perm := accounts.JobRetry
	if action != "retry" {
		perm = accounts.JobDecide
	}
	if !h.allowed(w, r, s, l, perm) {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := station.CheckReason(action, reason); err != nil {
		h.done(w, r, s, note{Err: true, Text: l.T("err_reason_needed", "What", l.T("target_job", "ID", job))})
		return
	}
	var msg string
	switch action {
	case "confirm":
		if _, err := h.st.Confirm(r.Context(), job, s.Name); err != nil {
			h.failed(w, r, s, l, l.T("target_job", "ID", job), err)
			return
		}
		msg = l.T("job_confirmed", "ID", job)
	case "spoil":
		if err := h.st.Spoil(r.Context(), job, s.Name); err != nil {
			h.failed(w, r, s, l, l.T("target_job", "ID", job), err)
			return
		}
		msg = l.T("job_spoiled", "ID", job)
	case "retry":
		if err := h.st.Retry(r.Context(), job, s.Name); err != nil {
			h.failed(w, r, s, l, l.T("target_job", "ID", job), err)
			return
		}
		msg = l.T("job_retried", "ID", job)
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "job_" + action, Job: job, Reason: reason})
	h.log.Info().Str("job", job).Str("action", action).Str("role", s.Role).Msg("job action from the web page")
	h.done(w, r, s, note{Text: msg})
}

func (h *handler) printer(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, true)
	if s == nil {
		return
	}
	name := r.PostFormValue("printer")
	if r.PostFormValue("action") != "resume" {
		h.done(w, r, s, note{Err: true, Text: l.T("err_printer_action")})
		return
	}
	if !validID(name) {
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_printer_chosen")})
		return
	}
	if !h.allowed(w, r, s, l, accounts.PrinterResume) {
		return
	}
	known := false
	for _, p := range h.st.Printers() {
		known = known || p.Name == name
	}
	if !known {
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_such_printer", "Name", name)})
		return
	}
	if err := h.st.ResumePrinter(name); err != nil {
		h.failed(w, r, s, l, l.T("target_printer", "Name", name), err)
		return
	}
	h.logAction(r.Context(), s, inventory.Event{Action: "printer_resume", Printer: name})
	h.log.Info().Str("printer", name).Str("role", s.Role).Msg("printer resumed from the web page")
	h.done(w, r, s, note{Text: l.T("printer_resumed", "Name", name)})
}

// failed shows the engine's refusal, worded from its typed error; an
// error without a known kind is shown as "not done" with the engine's
// text folded away for the technician.
func (h *handler) failed(w http.ResponseWriter, r *http.Request, s *session, l *lang, what string, err error) {
	h.log.Warn().Err(err).Str("target", what).Msg("web action refused")
	n := note{Err: true}
	switch {
	case errors.Is(err, station.ErrNoBatch):
		n.Text = l.T("err_no_such_batch", "What", what)
	case errors.Is(err, jobqueue.ErrNotFound):
		n.Text = l.T("err_no_such_job", "What", what)
	case errors.Is(err, station.ErrBatchCancelled):
		n.Text = l.T("err_batch_was_cancelled", "What", what)
	case errors.Is(err, station.ErrNotWaiting):
		n.Text = l.T("err_not_waiting", "What", what)
	case errors.Is(err, station.ErrCardInside):
		n.Text = l.T("err_card_inside", "What", what)
	case errors.Is(err, station.ErrNoCardAtEncoder):
		n.Text = l.T("err_no_card_at_encoder", "What", what)
	case errors.Is(err, station.ErrChipMismatch):
		n.Text = l.T("err_chip_mismatch", "What", what)
	default:
		n.Text = l.T("err_not_done", "What", what)
		n.Detail = err.Error()
	}
	h.done(w, r, s, n)
}
