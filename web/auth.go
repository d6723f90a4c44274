package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station"
)

// Accounts is what the page needs of the station's accounts
// (*accounts.Store has it).
type Accounts interface {
	SignIn(ctx context.Context, name string, secret []byte, via string) (accounts.Account, error)
	Get(ctx context.Context, name string) (accounts.Account, error)
	Log(ctx context.Context, e inventory.Event) error
	List(ctx context.Context) ([]accounts.Account, error)
	Add(ctx context.Context, by accounts.By, name string, roles []accounts.Role, secret []byte) error
	SetDisabled(ctx context.Context, by accounts.By, name string, disabled bool) error
	Unlock(ctx context.Context, by accounts.By, name string) error
}

// maxSecretField bounds the secret fields read from a form.
const maxSecretField = 256

// can applies the role table to a signed-in session.
func (s *session) can(p accounts.Permission) bool {
	return s != nil && s.Name != "" && accounts.Allows(s.Roles, p)
}

// canMap is the table for the session, for the templates: they show only
// the buttons the person may press.
func (s *session) canMap() map[string]bool {
	m := map[string]bool{}
	for _, p := range accounts.Permissions() {
		m[string(p)] = s.can(p)
	}
	return m
}

// current is the request's session, checked against its account: a
// session whose account was disabled or locked since it signed in ends
// here, and the people log says so.
func (h *handler) current(r *http.Request, touch bool) *session {
	var s *session
	if touch {
		s = h.sessions.lookup(r)
	} else {
		s = h.sessions.peek(r)
	}
	if s == nil || s.Name == "" {
		return s
	}
	a, err := h.acc.Get(r.Context(), s.Name)
	if err == nil && !a.Disabled && !a.Locked {
		return s
	}
	if err != nil && !errors.Is(err, accounts.ErrNoAccount) {
		// The accounts could not be read (a busy database): this request
		// is refused, the session is not ended for it.
		h.log.Warn().Err(err).Msg("the session's account could not be checked")
		return nil
	}
	h.sessions.end(s.Name)
	h.logOut(r.Context(), s.Name, "disabled")
	return nil
}

func (h *handler) logOut(ctx context.Context, name, reason string) {
	if err := h.acc.Log(ctx, inventory.Event{Kind: inventory.SignedOut, Actor: name, Via: inventory.ViaWeb, Reason: reason}); err != nil {
		h.log.Error().Err(err).Msg("a sign-out could not be recorded in the people log")
	}
}

// allowed refuses, with a note on the page, when the session lacks p
// (POST-redirect-GET like every action), and returns false then; a page
// (GET) shows the refusal in place.
// postAllowed reads a signed-in person's form (post) that needs p: nil
// when the form or the person was refused (answered already).
func (h *handler) postAllowed(w http.ResponseWriter, r *http.Request, p accounts.Permission) (*session, *lang) {
	s, l := h.post(w, r, true)
	if s == nil || !h.allowed(w, r, s, l, p) {
		return nil, l
	}
	return s, l
}

func (h *handler) allowed(w http.ResponseWriter, r *http.Request, s *session, l *lang, p accounts.Permission) bool {
	if s.can(p) {
		return true
	}
	var roles []string
	for _, ro := range accounts.RolesWith(p) {
		roles = append(roles, l.T("role_"+string(ro)))
	}
	h.log.Warn().Str("permission", string(p)).Str("role", s.Role).Msg("web action refused by the role table")
	text := l.T("err_not_your_role", "Roles", strings.Join(roles, " / "))
	if r.Method == http.MethodPost {
		h.done(w, r, s, note{Err: true, Text: text})
		return false
	}
	h.render(w, l, http.StatusForbidden, "refused.html", refusal{Lang: l.Code, Title: l.T("refused_title"), Text: text})
	return false
}

// logAction puts a person's action from the page in the people log.
func (h *handler) logAction(ctx context.Context, s *session, e inventory.Event) {
	e.Kind, e.Actor, e.Via = inventory.ActionTaken, s.Name, inventory.ViaWeb
	if err := h.acc.Log(ctx, e); err != nil {
		h.log.Error().Err(err).Str("action", e.Action).Msg("a web action could not be recorded in the people log")
		h.notes.put(s.id, note{Err: true, Text: h.langs[Languages[0]].T("err_people_log")})
	}
}

func (h *handler) signin(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, false)
	if s == nil {
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	secret := r.PostFormValue("secret")
	if id := validName(name); id != "" {
		h.done(w, r, s, note{Err: true, Text: l.T(id)})
		return
	}
	if secret == "" || len(secret) > maxSecretField {
		h.done(w, r, s, note{Err: true, Text: l.T("signin_err_no_secret")})
		return
	}
	a, err := h.acc.SignIn(r.Context(), name, []byte(secret), inventory.ViaWeb)
	if err != nil {
		text := l.T("signin_err_refused")
		var se *accounts.SignInError
		if !errors.As(err, &se) {
			h.log.Error().Err(err).Msg("sign-in could not be checked")
			text = l.T("signin_err_unchecked")
		} else if se.Reason == accounts.FailLocked || se.Reason == accounts.FailNowLock {
			text = l.T("signin_err_locked")
		} else if se.Reason == accounts.FailDisabled {
			text = l.T("signin_err_disabled")
		}
		h.done(w, r, s, note{Err: true, Text: text})
		return
	}
	ns := h.sessions.signIn(w, r, s, a)
	h.log.Info().Str("role", ns.Role).Msg("staff signed in")
	h.notes.put(ns.id, note{Text: l.T("signed_in_as", "Role", ns.Name)})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *handler) signout(w http.ResponseWriter, r *http.Request) {
	s, _ := h.post(w, r, false)
	if s == nil {
		return
	}
	h.notes.drop(s.id)
	h.sessions.signOut(w, r, s)
	if s.Name != "" {
		h.logOut(r.Context(), s.Name, "sign_out")
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// actView is the page that asks for a reason before a batch is cancelled
// or an uncertain card confirmed or spoiled. It is a page of its own so
// the live refreshes do not wipe what the person types.
type actView struct {
	Lang               string
	Station, CSRF, Who string
	Kind, ID, Action   string // batch|job, its id, the action
	Title, Text        string
	Button             string
}

// actTexts are the reason pages' message ids (title, text, button) by
// kind and action.
var actTexts = map[string][3]string{
	"batch cancel": {msg("act_title_batch_cancel"), msg("act_text_batch_cancel"), msg("act_button_batch_cancel")},
	"job confirm":  {msg("act_title_job_confirm"), msg("act_text_job_confirm"), msg("act_button_job_confirm")},
	"job spoil":    {msg("act_title_job_spoil"), msg("act_text_job_spoil"), msg("act_button_job_spoil")},
}

func (h *handler) act(w http.ResponseWriter, r *http.Request) {
	s := h.current(r, true)
	if s == nil || s.Name == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	kind, action := "batch", r.URL.Query().Get("action")
	id := r.URL.Query().Get("batch")
	perm := accounts.BatchCancel
	if id == "" {
		kind, id, perm = "job", r.URL.Query().Get("job"), accounts.JobDecide
	}
	t, ok := actTexts[kind+" "+action]
	if !ok || !validID(id) {
		h.notes.put(s.id, note{Err: true, Text: h.langOf(r, s).T("err_job_action")})
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if !h.allowed(w, r, s, h.langOf(r, s), perm) {
		return
	}
	h.render(w, h.langOf(r, nil), http.StatusOK, "act.html", actView{Lang: h.langOf(r, s).Code, Station: h.opts.Station, CSRF: s.CSRF, Who: s.Name, Kind: kind, ID: id, Action: action,
		Title: h.langOf(r, s).T(t[0], "ID", id), Text: h.langOf(r, s).T(t[1]), Button: h.langOf(r, s).T(t[2])})
}

// controlView is the dual-control page's part: destruction, adjustment
// and shift close, each with a second sign-in box for the witness.
type controlView struct {
	Printers []string
	Stock    *station.StockState
	// Awaiting are the spoiled cards with a known chip UID that wait for
	// destruction (audit.go), to tick on the destruction form.
	Awaiting     []inventory.SpoiledCard
	AwaitingMore int // more such cards wait than the form lists
}

// gatedPage serves a page that needs a signed-in person holding p; others
// go to the sign-in, or are told their account may not do this.
func (h *handler) gatedPage(p accounts.Permission, show func(http.ResponseWriter, *http.Request, *session, *lang, int, *note)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s := h.current(r, true)
		if s == nil || s.Name == "" {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		l := h.langOf(r, s)
		if !h.allowed(w, r, s, l, p) {
			return
		}
		show(w, r, s, l, http.StatusOK, nil)
	}
}

// showStock draws the dual-control page; a refusal is shown in place (the
// form's numbers are not kept, but the page says what to change).
func (h *handler) showStock(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, refusal *note) {
	v := h.frame(r, l, s, "stock")
	v.Here = "/stock"
	if refusal != nil {
		refusal.Detail = scrubCommands(refusal.Detail)
		v.Note = refusal
	}
	cv := &controlView{}
	for _, p := range h.st.Printers() {
		cv.Printers = append(cv.Printers, p.Name)
	}
	cv.Stock, _ = h.st.Stock(r.Context())
	cv.Awaiting, cv.AwaitingMore = h.awaitingCards(r.Context())
	v.Control = cv
	h.render(w, l, code, "stock.html", v)
}

// usersView is the admin's page of accounts.
type usersView struct {
	Accounts []accounts.Account
	Roles    []accounts.Role
	Err      bool
}

func (h *handler) showUsers(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, refusal *note) {
	v := h.frame(r, l, s, "users")
	v.Here = "/users"
	if refusal != nil {
		refusal.Detail = scrubCommands(refusal.Detail)
		v.Note = refusal
	}
	uv := &usersView{Roles: accounts.AllRoles}
	var err error
	if uv.Accounts, err = h.acc.List(r.Context()); err != nil {
		h.log.Error().Err(err).Msg("the accounts could not be read for the page")
		uv.Err = true
	}
	v.Users = uv
	h.render(w, l, code, "users.html", v)
}

// usersDone are the outcome messages by account action.
var usersDone = map[string]string{
	"add":     msg("users_done_add"),
	"disable": msg("users_done_disable"),
	"enable":  msg("users_done_enable"),
	"unlock":  msg("users_done_unlock"),
}

var errSecretsDiffer = errors.New("the two secrets differ")

func (h *handler) users(w http.ResponseWriter, r *http.Request) {
	s, l := h.postAllowed(w, r, accounts.ManageUsers)
	if s == nil {
		return
	}
	by := accounts.By{Name: s.Name, Via: inventory.ViaWeb}
	name := strings.TrimSpace(r.PostFormValue("name"))
	action := r.PostFormValue("action")
	done, known := usersDone[action]
	if !known {
		h.showUsers(w, r, s, l, http.StatusBadRequest, &note{Err: true, Text: l.T("users_err_action")})
		return
	}
	var err error
	rolesOK := true
	switch action {
	case "add":
		var roles []accounts.Role
		roles, err = accounts.ParseRoles(strings.Join(r.PostForm["role"], ","))
		rolesOK = err == nil
		secret := r.PostFormValue("secret")
		switch {
		case err != nil:
		case len(secret) > maxSecretField:
			err = accounts.ErrWeakSecret
		case secret != r.PostFormValue("secret2"):
			err = errSecretsDiffer
		default:
			err = h.acc.Add(r.Context(), by, name, roles, []byte(secret))
		}
	case "disable", "enable":
		// A disabled account's sessions end at their next request
		// (current checks the account each time).
		err = h.acc.SetDisabled(r.Context(), by, name, action == "disable")
	case "unlock":
		err = h.acc.Unlock(r.Context(), by, name)
	}
	if err != nil {
		n := &note{Err: true}
		switch {
		case !rolesOK:
			n.Text = l.T("users_err_roles")
		case errors.Is(err, errSecretsDiffer):
			n.Text = l.T("users_err_secrets_differ")
		case errors.Is(err, accounts.ErrWeakSecret):
			n.Text = l.T("users_err_weak")
		case errors.Is(err, accounts.ErrBadName):
			n.Text = l.T("users_err_name")
		case errors.Is(err, accounts.ErrExists):
			n.Text = l.T("users_err_exists", "Name", name)
		case errors.Is(err, accounts.ErrNoAccount):
			n.Text = l.T("users_err_no_account", "Name", name)
		default:
			h.log.Warn().Err(err).Str("action", action).Msg("an account action from the web page was not done")
			n.Text, n.Detail = l.T("users_err_not_done"), err.Error()
		}
		h.showUsers(w, r, s, l, http.StatusBadRequest, n)
		return
	}
	h.notes.put(s.id, note{Text: l.T(done, "Name", name)})
	http.Redirect(w, r, "/users", http.StatusSeeOther)
}

// noAccounts signs no one in: a page built without accounts shows the
// sign-in form and refuses every attempt, saying why.
type noAccounts struct{}

var errNoAccounts = errors.New("this page has no accounts to sign in with; the station must be started with its accounts")

func (noAccounts) SignIn(context.Context, string, []byte, string) (accounts.Account, error) {
	return accounts.Account{}, errNoAccounts
}
func (noAccounts) Get(context.Context, string) (accounts.Account, error) {
	return accounts.Account{}, errNoAccounts
}
func (noAccounts) Log(context.Context, inventory.Event) error        { return errNoAccounts }
func (noAccounts) List(context.Context) ([]accounts.Account, error)  { return nil, errNoAccounts }
func (noAccounts) Unlock(context.Context, accounts.By, string) error { return errNoAccounts }
func (noAccounts) Add(context.Context, accounts.By, string, []accounts.Role, []byte) error {
	return errNoAccounts
}
func (noAccounts) SetDisabled(context.Context, accounts.By, string, bool) error { return errNoAccounts }

// knownHost: a Host the page may answer to besides loopback names (the
// LAN address and certificate names, with TLS).
func (h *handler) knownHost(hostport string) bool {
	host := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		host = hh
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	for _, k := range h.opts.Hosts {
		if strings.EqualFold(k, host) {
			return true
		}
	}
	return false
}
