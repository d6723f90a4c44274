// Package accounts is who may use the station: named accounts with roles,
// secrets (a password or a numeric PIN) hashed with argon2id, a disabled
// flag, lockout after repeated failures, and the map from Unix uids to
// accounts that lets printstationctl act as a person. Every sign-in (also a
// failed one, never with the secret) and every change to an account is an
// event in the station's ledger, in the same transaction as the change, so
// `audit verify` covers who did what as it covers the blanks.
//
// There are no default accounts and no default secrets: root on the station
// computer makes the first admin (printstationctl user add --role admin).
package accounts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"printstation/inventory"
	"printstation/storage"
)

// Ledger is where the people log goes: inventory's ledger, in the caller's
// transaction.
type Ledger interface {
	Append(ctx context.Context, tx *sql.Tx, e inventory.Event) (inventory.Entry, error)
}

// Options configure a Store.
type Options struct {
	// Ledger receives the people events. Required.
	Ledger Ledger
	// MaxFailures wrong secrets in a row lock an account until someone
	// unlocks it (0: 5).
	MaxFailures int
	// Params are argon2id's costs for new secrets (zero: DefaultParams).
	Params Params
	// Parallel bounds concurrent argon2 computations (0: 2), so a flood
	// of sign-ins queues instead of taking the station's memory.
	Parallel int
}

// Store keeps the accounts in the station database.
type Store struct {
	db    *sql.DB
	opt   Options
	dummy storedHash // the work done for a name no account has
	sem   chan struct{}
}

// Account is an account as others see it: never its secret.
type Account struct {
	Name     string `json:"name"`
	Roles    []Role `json:"roles"`
	Disabled bool   `json:"disabled"`
	Locked   bool   `json:"locked"`
	Failures int    `json:"failures"`
	UIDs     []int  `json:"uids,omitempty"`
}

// Can says whether the account may do p: not disabled or locked, and one
// of its roles holds p.
func (a Account) Can(p Permission) bool { return !a.Disabled && !a.Locked && Allows(a.Roles, p) }

var schema = []string{
	`CREATE TABLE IF NOT EXISTS accounts(
		name TEXT PRIMARY KEY COLLATE NOCASE, roles TEXT NOT NULL, secret TEXT NOT NULL,
		disabled INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0, locked INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL, updated_at TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS account_uids(uid INTEGER PRIMARY KEY, name TEXT NOT NULL REFERENCES accounts(name))`,
}

// Open creates the tables if needed.
func Open(ctx context.Context, db *sql.DB, opt Options) (*Store, error) {
	if opt.Ledger == nil {
		return nil, errors.New("accounts: open: no ledger: every account change must be logged")
	}
	if opt.MaxFailures <= 0 {
		opt.MaxFailures = 5
	}
	if opt.Params == (Params{}) {
		opt.Params = DefaultParams
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 2
	}
	for _, q := range schema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("accounts: create tables: %w", err)
		}
	}
	s := &Store{db: db, opt: opt, sem: make(chan struct{}, opt.Parallel)}
	// A name no account has costs the same argon2 work as a real one:
	// the answer's timing must not tell a guesser which names exist. The
	// work is the hash computed at the sign-in, with these costs and salt;
	// the key it is compared with may be any bytes (no secret gives them),
	// so none is computed here: a hash at every start was ≈ 40–60 ms of
	// the time to READY.
	h, err := decoyHash(opt.Params)
	if err != nil {
		return nil, err
	}
	if s.dummy, err = parseHash(h); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	return s, nil
}

// Errors a caller can match.
var (
	ErrNoAccount   = errors.New("no such account")
	ErrExists      = errors.New("account exists")
	ErrBadName     = errors.New("bad account name")
	ErrSignIn      = errors.New("sign-in refused")
	ErrForbidden   = errors.New("not allowed for this role")
	ErrSamePerson  = errors.New("the second person must be someone else")
	ErrNeedWitness = errors.New("a second person must sign in")
)

// CheckName says whether name may be an account's name: printable, one
// line, no colon (it separates name and secret in HTTP Basic), 1–60
// characters, no spaces at the ends.
func CheckName(name string) error {
	n := utf8.RuneCountInString(name)
	if n == 0 || n > 60 {
		return fmt.Errorf("%w: %q: 1 to 60 characters", ErrBadName, name)
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: %q starts or ends with a space", ErrBadName, name)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) || r == ':' {
			return fmt.Errorf("%w: %q: use letters, digits, spaces, dots and dashes", ErrBadName, name)
		}
	}
	if name == inventory.UnknownAccount {
		return fmt.Errorf("%w: %q is reserved", ErrBadName, name)
	}
	return nil
}

// By is who makes a change, for the people log.
type By struct {
	Name string // an account's name, or "root" on the host
	Via  string // inventory.ViaWeb, ViaSocket or ViaHost
}

// Root is the station computer's root user: the only one who may make
// the first admin, because it owns the database anyway.
var Root = By{Name: "root", Via: inventory.ViaHost}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }

func joinRoles(rs []Role) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}

func rolesStrings(rs []Role) []string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return s
}

// change runs fn and appends its people event in one transaction.
func (s *Store) change(ctx context.Context, by By, action, subject string, roles []Role, fn func(tx *sql.Tx) error) error {
	return storage.InTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		_, err := s.opt.Ledger.Append(ctx, tx, inventory.Event{Kind: inventory.AccountChanged, Actor: by.Name, Via: by.Via,
			Action: action, Subject: subject, Roles: rolesStrings(roles)})
		return err
	})
}

// Add makes an account.
func (s *Store) Add(ctx context.Context, by By, name string, roles []Role, secret []byte) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if len(roles) == 0 {
		return errors.New("accounts: an account needs at least one role")
	}
	for _, r := range roles {
		if !slices.Contains(AllRoles, r) {
			return fmt.Errorf("accounts: unknown role %q", r)
		}
	}
	if err := CheckSecret(secret); err != nil {
		return err
	}
	h, err := s.hash(ctx, secret)
	if err != nil {
		return err
	}
	return s.change(ctx, by, "add", name, roles, func(tx *sql.Tx) error {
		var n int
		tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE name=?`, name).Scan(&n)
		if n > 0 {
			return fmt.Errorf("account %q: %w", name, ErrExists)
		}
		t := now()
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts(name, roles, secret, created_at, updated_at) VALUES(?,?,?,?,?)`,
			name, joinRoles(roles), h, t, t)
		return err
	})
}

// update changes one existing account's row.
func (s *Store) update(ctx context.Context, by By, action, name string, set string, args ...any) error {
	a, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return s.change(ctx, by, action, a.Name, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET `+set+`, updated_at=? WHERE name=?`, append(args, now(), a.Name)...)
		return err
	})
}

// SetDisabled disables or enables an account. A disabled account cannot
// sign in, and its page sessions end at their next request.
func (s *Store) SetDisabled(ctx context.Context, by By, name string, disabled bool) error {
	action := "enable"
	if disabled {
		action = "disable"
	}
	return s.update(ctx, by, action, name, `disabled=?`, disabled)
}

// Unlock lets a locked account sign in again; the unlock is logged with
// who did it.
func (s *Store) Unlock(ctx context.Context, by By, name string) error {
	return s.update(ctx, by, "unlock", name, `locked=0, failures=0`)
}

// SetSecret gives an account a new secret (and unlocks it: the person
// who set it has just proved who the account belongs to).
func (s *Store) SetSecret(ctx context.Context, by By, name string, secret []byte) error {
	if err := CheckSecret(secret); err != nil {
		return err
	}
	h, err := s.hash(ctx, secret)
	if err != nil {
		return err
	}
	return s.update(ctx, by, "set_secret", name, `secret=?, locked=0, failures=0`, h)
}

// SetRoles replaces an account's roles.
func (s *Store) SetRoles(ctx context.Context, by By, name string, roles []Role) error {
	if len(roles) == 0 {
		return errors.New("accounts: an account needs at least one role")
	}
	a, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return s.change(ctx, by, "set_roles", a.Name, roles, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE accounts SET roles=?, updated_at=? WHERE name=?`, joinRoles(roles), now(), a.Name)
		return err
	})
}

// MapUID makes Unix user uid act as account name on the local socket;
// an empty name removes the mapping. Root (uid 0) is never mapped: root
// manages accounts as itself and acts on cards only with a name and secret.
func (s *Store) MapUID(ctx context.Context, by By, uid int, name string) error {
	if uid <= 0 {
		return fmt.Errorf("accounts: uid %d: map an ordinary user's uid, not root's", uid)
	}
	if name == "" {
		return s.change(ctx, by, "unmap_uid", fmt.Sprintf("uid %d", uid), nil, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `DELETE FROM account_uids WHERE uid=?`, uid)
			return err
		})
	}
	a, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	return s.change(ctx, by, fmt.Sprintf("map_uid %d", uid), a.Name, nil, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO account_uids(uid, name) VALUES(?,?) ON CONFLICT(uid) DO UPDATE SET name=excluded.name`, uid, a.Name)
		return err
	})
}

func scanAccount(sc interface{ Scan(...any) error }) (Account, string, error) {
	var a Account
	var roles, secret string
	if err := sc.Scan(&a.Name, &roles, &secret, &a.Disabled, &a.Failures, &a.Locked); err != nil {
		return a, "", err
	}
	for _, r := range strings.Split(roles, ",") {
		if r != "" {
			a.Roles = append(a.Roles, Role(r))
		}
	}
	return a, secret, nil
}

const accountCols = `name, roles, secret, disabled, failures, locked`

func (s *Store) get(ctx context.Context, name string) (Account, string, error) {
	a, h, err := scanAccount(s.db.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return a, "", fmt.Errorf("account %q: %w (printstationctl user list shows the accounts)", name, ErrNoAccount)
	}
	if err != nil {
		return a, "", fmt.Errorf("accounts: read %q: %w", name, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT uid FROM account_uids WHERE name=? ORDER BY uid`, a.Name)
	if err != nil {
		return a, "", fmt.Errorf("accounts: read uids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var u int
		rows.Scan(&u)
		a.UIDs = append(a.UIDs, u)
	}
	return a, h, rows.Err()
}

// Get reads an account.
func (s *Store) Get(ctx context.Context, name string) (Account, error) {
	a, _, err := s.get(ctx, name)
	return a, err
}

// ByUID finds the account mapped to a Unix uid.
func (s *Store) ByUID(ctx context.Context, uid int) (Account, error) {
	var name string
	err := s.db.QueryRowContext(ctx, `SELECT name FROM account_uids WHERE uid=?`, uid).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, fmt.Errorf("uid %d: %w mapped to it (an admin maps it: printstationctl user map-uid NAME UID)", uid, ErrNoAccount)
	}
	if err != nil {
		return Account{}, fmt.Errorf("accounts: read uid %d: %w", uid, err)
	}
	return s.Get(ctx, name)
}

// List reads every account, by name.
func (s *Store) List(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM accounts ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("accounts: list: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := []Account{}
	for _, n := range names {
		a, err := s.Get(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// Count says how many accounts exist.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n)
	return n, err
}

// maxQueue bounds how long a sign-in waits behind others for its turn
// at the argon2 work: a flood of sign-ins is refused, not queued forever.
const maxQueue = 10 * time.Second

func (s *Store) acquire(ctx context.Context) error {
	t := time.NewTimer(maxQueue)
	defer t.Stop()
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-t.C:
		return errors.New("accounts: the station is busy checking other sign-ins; try again in a moment")
	case <-ctx.Done():
		return fmt.Errorf("accounts: the station is busy checking other sign-ins: %w", ctx.Err())
	}
}

func (s *Store) hash(ctx context.Context, secret []byte) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-s.sem }()
	return hashSecret(secret, s.opt.Params)
}

// Failure reasons in the people log and in SignInError.
const (
	FailUnknown  = "unknown_account"
	FailSecret   = "wrong_secret"
	FailLocked   = "locked"
	FailDisabled = "disabled"
	FailNowLock  = "wrong_secret_now_locked"
)

// SignInError says why a sign-in failed. Its message is the same for an
// unknown name and a wrong secret, so the answer does not tell a guesser
// which names exist; Reason is for the log.
type SignInError struct{ Reason string }

func (e *SignInError) Error() string {
	switch e.Reason {
	case FailLocked, FailNowLock:
		return "sign-in refused: this account is locked after too many wrong secrets; an admin unlocks it (printstationctl user unlock NAME)"
	case FailDisabled:
		return "sign-in refused: this account is disabled; ask an admin"
	}
	return "sign-in refused: wrong name or secret"
}

func (e *SignInError) Is(target error) bool { return target == ErrSignIn }

// SignIn checks a name and secret and logs the attempt. Every path — an
// unknown name, a disabled or locked account, a wrong or right secret —
// does exactly one argon2id computation at the same cost before it
// answers, so the time taken does not tell which it was. A locked account
// answers "locked" even to the right secret.
func (s *Store) SignIn(ctx context.Context, name string, secret []byte, via string) (Account, error) {
	return s.signIn(ctx, name, secret, via, true)
}

// Check is SignIn for a request that only reads (printstationctl status
// --watch asks every few seconds): the same work, the same lockout, and a
// failure is logged, but a success is not, so reading does not fill the
// ledger with sign-ins.
func (s *Store) Check(ctx context.Context, name string, secret []byte, via string) (Account, error) {
	return s.signIn(ctx, name, secret, via, false)
}

func (s *Store) signIn(ctx context.Context, name string, secret []byte, via string, logSuccess bool) (Account, error) {
	if err := s.acquire(ctx); err != nil {
		return Account{}, err
	}
	a, stored, lookErr := s.get(ctx, name)
	h := s.dummy
	known := lookErr == nil
	if known {
		if p, err := parseHash(stored); err == nil {
			h = p
		} else {
			known = false // a damaged row signs no one in
		}
	}
	// A secret longer than any stored one cannot match, but costs the
	// same work (on a cut copy) so its answer takes as long.
	tooLong := len(secret) > maxSecret
	if tooLong {
		secret = secret[:maxSecret]
	}
	ok := h.matches(secret) && !tooLong
	<-s.sem
	if lookErr != nil && !errors.Is(lookErr, ErrNoAccount) {
		return Account{}, lookErr
	}
	reason := ""
	switch {
	case !known:
		reason = FailUnknown
	case a.Disabled:
		reason = FailDisabled
	case a.Locked:
		reason = FailLocked
	case !ok:
		reason = FailSecret
		if a.Failures+1 >= s.opt.MaxFailures {
			reason = FailNowLock
		}
	}
	err := storage.InTx(ctx, s.db, func(tx *sql.Tx) error {
		ev := inventory.Event{Kind: inventory.SignedIn, Actor: a.Name, Via: via, Roles: rolesStrings(a.Roles)}
		switch reason {
		case "":
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET failures=0 WHERE name=? AND failures<>0`, a.Name); err != nil {
				return err
			}
			if !logSuccess {
				return nil
			}
		case FailUnknown:
			ev = inventory.Event{Kind: inventory.SignInFailed, Actor: inventory.UnknownAccount, Via: via, Reason: reason}
		case FailSecret, FailNowLock:
			if _, err := tx.ExecContext(ctx, `UPDATE accounts SET failures=failures+1, locked=(failures+1>=?) WHERE name=?`, s.opt.MaxFailures, a.Name); err != nil {
				return err
			}
			ev = inventory.Event{Kind: inventory.SignInFailed, Actor: a.Name, Via: via, Reason: reason}
		default:
			ev = inventory.Event{Kind: inventory.SignInFailed, Actor: a.Name, Via: via, Reason: reason}
		}
		_, err := s.opt.Ledger.Append(ctx, tx, ev)
		return err
	})
	if err != nil {
		return Account{}, fmt.Errorf("accounts: log the sign-in: %w", err)
	}
	if reason != "" {
		return Account{}, &SignInError{Reason: reason}
	}
	a.Failures = 0
	return a, nil
}

// Log appends a people event (a sign-out, a reload, an action) on its own.
func (s *Store) Log(ctx context.Context, e inventory.Event) error {
	return storage.InTx(ctx, s.db, func(tx *sql.Tx) error {
		_, err := s.opt.Ledger.Append(ctx, tx, e)
		return err
	})
}

// Pair checks the two people of a dual-control action: both signed in, the
// first allowed first, the second allowed to witness, and not the same
// account.
func Pair(first, second Account, p Permission) error {
	if !first.Can(p) {
		return fmt.Errorf("%s may not do this (%w; it needs one of: %s)", first.Name, ErrForbidden, joinRoles(RolesWith(p)))
	}
	if second.Name == "" {
		return ErrNeedWitness
	}
	if strings.EqualFold(first.Name, second.Name) {
		return fmt.Errorf("%w: %s signed in twice", ErrSamePerson, first.Name)
	}
	if !second.Can(Witness) {
		return fmt.Errorf("%s may not witness (%w; it needs one of: %s)", second.Name, ErrForbidden, joinRoles(RolesWith(Witness)))
	}
	return nil
}
