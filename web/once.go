package web

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// A form that moves blanks or a printer (a stock operation, a
// technician's button) carries a one-use token drawn with the page: a
// double click or a browser sending the form again arrives with the same
// token and is recorded once. The CSRF token cannot do this, it lasts the
// session. A form without the token (a script of the station's own tests)
// is not refused: the token guards against the person's second click, not
// against a forger, whom the CSRF and same-origin checks stop.

// onceKeep is how long a used token is remembered; onceMax bounds how
// many are (a full set forgets the oldest).
const (
	onceKeep = time.Hour
	onceMax  = 10000
)

type onceForms struct {
	mu   sync.Mutex
	used map[string]time.Time
}

// newOnceToken is a fresh form token.
func newOnceToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// claim returns false when the token was already used: the form was sent
// before. An empty token is always let through.
func (o *onceForms) claim(token string, now time.Time) bool {
	if token == "" {
		return true
	}
	if len(token) > 64 {
		token = token[:64]
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.used == nil {
		o.used = map[string]time.Time{}
	}
	if _, seen := o.used[token]; seen {
		return false
	}
	if len(o.used) >= onceMax {
		var oldest string
		var at time.Time
		for k, t := range o.used {
			if now.Sub(t) > onceKeep {
				delete(o.used, k)
			} else if oldest == "" || t.Before(at) {
				oldest, at = k, t
			}
		}
		if len(o.used) >= onceMax {
			delete(o.used, oldest)
		}
	}
	o.used[token] = now
	return true
}
