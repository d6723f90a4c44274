package station

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station/localapi"
)

// The local API knows who calls it. The kernel tells the daemon the
// caller's Unix uid (SO_PEERCRED); a uid an admin mapped to an account acts
// as that account. Otherwise the request carries the person's name and
// secret (HTTP Basic in Authorization), checked like a sign-in on the page.
// A dual-control action carries the second person's name and secret too, in
// WitnessHeader, in the same request. Root (uid 0) may read and manage
// accounts (it owns the database anyway, and makes the first admin); to act
// on cards root signs in as a person like anyone else.

// WitnessHeader carries the second person of a dual-control action.
const WitnessHeader = localapi.WitnessHeader

type peerKey struct{}

// peerUID is the uid the kernel reported for the connection, or -1.
func peerUID(ctx context.Context) int {
	if u, ok := ctx.Value(peerKey{}).(int); ok {
		return u
	}
	return -1
}

// peerContext records the connecting process's uid for every request on a
// unix-socket connection.
func peerContext(ctx context.Context, c net.Conn) context.Context {
	uid := -1
	if uc, ok := c.(*net.UnixConn); ok {
		if raw, err := uc.SyscallConn(); err == nil {
			raw.Control(func(fd uintptr) {
				if cred, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
					uid = int(cred.Uid)
				}
			})
		}
	}
	return context.WithValue(ctx, peerKey{}, uid)
}

// Caller is who a local API request acts as.
type Caller struct {
	accounts.Account
	// Root is set for uid 0 without a name and secret: it may read and
	// manage accounts, nothing else.
	Root bool
}

// can applies the role table; root holds View and ManageUsers only.
func (c Caller) can(p accounts.Permission) bool {
	if c.Root {
		return p == accounts.View || p == accounts.ManageUsers
	}
	return c.Account.Can(p)
}

// by is the caller as the people log names it.
func (c Caller) by() accounts.By {
	if c.Root {
		return accounts.Root
	}
	return accounts.By{Name: c.Name, Via: inventory.ViaSocket}
}

func parseBasic(h string) (string, []byte, bool) { return localapi.ParseBasic(h) }

// BasicAuth is the header value for name and secret.
func BasicAuth(name string, secret []byte) string { return localapi.BasicAuth(name, secret) }

// ErrWhoAreYou is the local API's answer (401) when it cannot tell which
// person calls.
var ErrWhoAreYou = errors.New("sign in")

// identify finds the caller of r.
func identify(ctx context.Context, acc *accounts.Store, r *http.Request) (Caller, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		name, secret, ok := parseBasic(h)
		if !ok {
			return Caller{}, fmt.Errorf("%w: the Authorization header is not Basic name:secret", ErrWhoAreYou)
		}
		// A request that only reads is checked the same way, but only a
		// failed check is logged: status --watch asks every few seconds.
		check := acc.SignIn
		if r.Method == http.MethodGet {
			check = acc.Check
		}
		a, err := check(ctx, name, secret, inventory.ViaSocket)
		if err != nil {
			return Caller{}, fmt.Errorf("%w: %w", ErrWhoAreYou, err)
		}
		return Caller{Account: a}, nil
	}
	uid := peerUID(ctx)
	if uid < 0 {
		return Caller{}, fmt.Errorf("%w: the daemon cannot tell which user is calling; give --user NAME", ErrWhoAreYou)
	}
	a, err := acc.ByUID(ctx, uid)
	switch {
	case err == nil:
		if a.Disabled || a.Locked {
			return Caller{}, fmt.Errorf("%w: account %s (mapped to uid %d) is disabled or locked; ask an admin", ErrWhoAreYou, a.Name, uid)
		}
		return Caller{Account: a}, nil
	case uid == 0:
		return Caller{Root: true, Account: accounts.Account{Name: "root"}}, nil
	case errors.Is(err, accounts.ErrNoAccount):
		return Caller{}, fmt.Errorf("%w: no account is mapped to your Unix user (uid %d): give --user NAME and your secret, or ask an admin to run printstationctl user map-uid NAME %d", ErrWhoAreYou, uid, uid)
	default:
		return Caller{}, err
	}
}

// witness reads and checks the second person of a dual-control request.
func witness(ctx context.Context, acc *accounts.Store, r *http.Request) (accounts.Account, error) {
	h := r.Header.Get(WitnessHeader)
	if h == "" {
		return accounts.Account{}, accounts.ErrNeedWitness
	}
	name, secret, ok := parseBasic(h)
	if !ok {
		return accounts.Account{}, fmt.Errorf("%w: the witness header is not Basic name:secret", ErrWhoAreYou)
	}
	a, err := acc.SignIn(ctx, name, secret, inventory.ViaSocket)
	if err != nil {
		return accounts.Account{}, fmt.Errorf("witness %w", err)
	}
	return a, nil
}

type callerKey struct{}

// CallerOf is the caller identify found for r.
func CallerOf(r *http.Request) Caller {
	c, _ := r.Context().Value(callerKey{}).(Caller)
	return c
}

// authenticate identifies every request's caller before its handler runs;
// only the version answers anyone.
func authenticate(acc *accounts.Store, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/version" {
			next.ServeHTTP(w, r)
			return
		}
		c, err := identify(r.Context(), acc, r)
		if err != nil {
			code := http.StatusUnauthorized
			if !errors.Is(err, ErrWhoAreYou) {
				code = http.StatusInternalServerError
			}
			writeErr(w, code, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

// refusedKey holds, in a request's context, where allowed notes a refusal
// by the role table for journalRefusals.
type refusedKey struct{}

type refusal struct {
	perm    accounts.Permission
	roles   string
	pattern string
}

// journalRefusals writes each request the role table refused to the
// daemon's journal, as the page does for its actions: which route, which
// permission, the caller's roles — not the name, as no journal line
// names a person. Without it a refused socket action was recorded
// nowhere (the people log keeps what was done).
func journalRefusals(log zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rf refusal
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), refusedKey{}, &rf)))
		if rf.perm != "" {
			log.Warn().Str("route", rf.pattern).Str("permission", string(rf.perm)).Str("role", rf.roles).Msg("socket action refused by the role table")
		}
	})
}

// roles are the caller's roles for a journal line (root when root).
func (c Caller) roles() string {
	if c.Root {
		return "root"
	}
	var roles []string
	for _, ro := range c.Account.Roles {
		roles = append(roles, string(ro))
	}
	return strings.Join(roles, ",")
}

// allowed answers 403 and returns false when the caller lacks p.
func allowed(w http.ResponseWriter, r *http.Request, p accounts.Permission) (Caller, bool) {
	c := CallerOf(r)
	if !c.can(p) {
		if rf, _ := r.Context().Value(refusedKey{}).(*refusal); rf != nil {
			rf.perm, rf.roles, rf.pattern = p, c.roles(), r.Pattern
		}
		writeErr(w, http.StatusForbidden, fmt.Errorf("%s may not do this: it needs the role %s (%w)", c.Name, rolesText(p), accounts.ErrForbidden))
		return c, false
	}
	return c, true
}

func rolesText(p accounts.Permission) string {
	var s []string
	for _, r := range accounts.RolesWith(p) {
		s = append(s, string(r))
	}
	return strings.Join(s, " or ")
}

// sameActor keeps the old "actor" field honest: it may only name the
// person who signed in.
func sameActor(c Caller, claimed string) error {
	if claimed != "" && !strings.EqualFold(strings.TrimSpace(claimed), c.Name) {
		return fmt.Errorf("actor %q is not who signed in (%s): %w", claimed, c.Name, accounts.ErrForbidden)
	}
	return nil
}
