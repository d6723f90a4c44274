package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

const (
	cookieName = "ps_session"
	// A signed-in session ends after a shift's worth of idleness; one that
	// never signed in (the sign-in form's) after an hour.
	signedInIdle = 12 * time.Hour
	anonIdle     = time.Hour
	maxSessions  = 1000
)

// session is one browser's: an anonymous one carries only the CSRF token
// for the sign-in form (so sign-in cannot be forged either).
type session struct {
	id       string
	Name     string // the ledger actor
	Role     string
	CSRF     string
	flash    string
	lastSeen time.Time
}

func (s *session) checkCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

func newSessions() *sessions { return &sessions{m: map[string]*session{}} }

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails on Linux (getrandom)
	return base64.RawURLEncoding.EncodeToString(b)
}

func expired(s *session, now time.Time) bool {
	idle := anonIdle
	if s.Name != "" {
		idle = signedInIdle
	}
	return now.Sub(s.lastSeen) > idle
}

// lookup finds the request's live session, or nil.
func (ss *sessions) lookup(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[c.Value]
	now := time.Now()
	if s == nil || expired(s, now) {
		delete(ss.m, c.Value)
		return nil
	}
	s.lastSeen = now
	cp := *s
	return &cp
}

// get finds the request's session or starts an anonymous one.
func (ss *sessions) get(w http.ResponseWriter, r *http.Request) *session {
	if s := ss.lookup(r); s != nil {
		return s
	}
	return ss.create(w, "", "")
}

func (ss *sessions) create(w http.ResponseWriter, name, role string) *session {
	s := &session{id: randomToken(), Name: name, Role: role, CSRF: randomToken(), lastSeen: time.Now()}
	ss.mu.Lock()
	ss.prune(s.lastSeen)
	ss.m[s.id] = s
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: s.id, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
	cp := *s
	return &cp
}

// prune drops ended sessions and, past the cap, the longest idle ones, so
// a script that never keeps cookies cannot fill memory.
func (ss *sessions) prune(now time.Time) {
	for id, s := range ss.m {
		if expired(s, now) {
			delete(ss.m, id)
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
}

// signIn replaces the anonymous session with a new one (a new id, so a
// cookie planted before sign-in is worth nothing after it).
func (ss *sessions) signIn(w http.ResponseWriter, old *session, name, role string) *session {
	ss.mu.Lock()
	delete(ss.m, old.id)
	ss.mu.Unlock()
	return ss.create(w, name, role)
}

func (ss *sessions) signOut(w http.ResponseWriter, s *session) {
	ss.mu.Lock()
	delete(ss.m, s.id)
	ss.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

func (ss *sessions) setFlash(s *session, msg string) {
	ss.mu.Lock()
	if cur := ss.m[s.id]; cur != nil {
		cur.flash = msg
	}
	ss.mu.Unlock()
}

func (ss *sessions) takeFlash(s *session) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	cur := ss.m[s.id]
	if cur == nil {
		return ""
	}
	f := cur.flash
	cur.flash = ""
	return f
}
