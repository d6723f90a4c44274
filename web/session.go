package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"time"

	"printstation/accounts"
)

const (
	cookieName = "ps_session"
	// A signed-in session ends after DefaultIdle without a person's
	// request (the page's own live refreshes do not count); one that
	// never signed in (the sign-in form's) after an hour.
	DefaultIdle = 15 * time.Minute
	anonIdle    = time.Hour
	maxSessions = 1000
)

// session is one browser's: an anonymous one carries only the CSRF token
// for the sign-in form (so sign-in cannot be forged either). A signed-in
// one is bound to an account: Name is the account's, which the ledger
// records as the actor.
type session struct {
	id       string
	Name     string
	Roles    []accounts.Role
	Role     string // the roles as words, for the page's header
	CSRF     string
	lastSeen time.Time
}

func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

type sessions struct {
	mu   sync.Mutex
	m    map[string]*session
	idle time.Duration
	// ended hears of each signed-in session that ended by idleness (for
	// the people log); called outside the lock.
	ended func(name, reason string)
}

func newSessions(idle time.Duration, ended func(name, reason string)) *sessions {
	if idle <= 0 {
		idle = DefaultIdle
	}
	if ended == nil {
		ended = func(string, string) {}
	}
	return &sessions{m: map[string]*session{}, idle: idle, ended: ended}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on Linux (getrandom)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	idle := anonIdle
	if s.Name != "" {
		idle = ss.idle
	}
	return now.Sub(s.lastSeen) > idle
}

// lookup finds the request's live session, or nil, and counts the request
// as the person's activity.
func (ss *sessions) lookup(r *http.Request) *session { return ss.find(r, true) }

// peek is lookup for the page's own refreshes: they keep no session alive.
func (ss *sessions) peek(r *http.Request) *session { return ss.find(r, false) }

func (ss *sessions) find(r *http.Request, touch bool) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	ss.mu.Lock()
	s := ss.m[c.Value]
	now := time.Now()
	if s == nil || ss.expired(s, now) {
		delete(ss.m, c.Value)
		ss.mu.Unlock()
		if s != nil && s.Name != "" {
			ss.ended(s.Name, "idle")
		}
		return nil
	}
	if touch {
		s.lastSeen = now
	}
	cp := *s
	ss.mu.Unlock()
	return &cp
}

// end drops every session of account name (disabled, locked).
func (ss *sessions) end(name string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for id, s := range ss.m {
		if s.Name != "" && strings.EqualFold(s.Name, name) {
			delete(ss.m, id)
		}
	}
}

// get finds the request's session or starts an anonymous one.
func (ss *sessions) get(w http.ResponseWriter, r *http.Request) *session {
	if s := ss.lookup(r); s != nil {
		return s
	}
	return ss.create(w, r.TLS != nil, accounts.Account{})
}

func (ss *sessions) create(w http.ResponseWriter, secure bool, a accounts.Account) *session {
	var words []string
	for _, r := range a.Roles {
		words = append(words, string(r))
	}
	s := &session{id: randomToken(), Name: a.Name, Roles: a.Roles, Role: strings.Join(words, ", "), CSRF: randomToken(), lastSeen: time.Now()}
	ss.mu.Lock()
	idled := ss.prune(s.lastSeen)
	ss.m[s.id] = s
	ss.mu.Unlock()
	for _, n := range idled {
		ss.ended(n, "idle")
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	cp := *s
	return &cp
}

// prune drops ended sessions and, past the cap, the longest idle ones, so
// a script that never keeps cookies cannot fill memory. It returns the
// accounts whose sessions ended by idleness.
func (ss *sessions) prune(now time.Time) (idled []string) {
	for id, s := range ss.m {
		if ss.expired(s, now) {
			delete(ss.m, id)
			if s.Name != "" {
				idled = append(idled, s.Name)
			}
		}
	}
	for len(ss.m) >= maxSessions {
		var oldest *session
		for _, s := range ss.m {
			if oldest == nil || s.lastSeen.Before(oldest.lastSeen) {
				oldest = s
			}
		}
		delete(ss.m, oldest.id)
	}
	return idled
}

// signIn replaces the anonymous session with a new one (a new id, so a
// cookie planted before sign-in is worth nothing after it).
func (ss *sessions) signIn(w http.ResponseWriter, r *http.Request, old *session, a accounts.Account) *session {
	ss.mu.Lock()
	delete(ss.m, old.id)
	ss.mu.Unlock()
	return ss.create(w, r.TLS != nil, a)
}

func (ss *sessions) signOut(w http.ResponseWriter, r *http.Request, s *session) {
	ss.mu.Lock()
	delete(ss.m, s.id)
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}
