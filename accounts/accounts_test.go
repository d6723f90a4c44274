package accounts

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"printstation/inventory"
	"printstation/storage"
)

// cheap costs keep the tests fast; the code paths are the same.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}

type fixture struct {
	db *sql.DB
	l  *inventory.Ledger
	s  *Store
}

func newStore(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.Open(ctx, filepath.Join(dir, "station.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	signer, _, err := inventory.LoadOrCreateSigner(filepath.Join(dir, "ledger.key"), "station-t1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := inventory.Open(ctx, db, inventory.Options{StationID: "t1", Signer: signer, CheckpointEvery: 4})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, db, Options{Ledger: l, MaxFailures: 3, Params: testParams})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{db: db, l: l, s: s}
}

func (f *fixture) people(t *testing.T) []inventory.Entry {
	t.Helper()
	rows, err := f.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []inventory.Entry
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		e, err := inventory.ParseEntry(d)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestAccountLifecycleIsLogged(t *testing.T) {
	f := newStore(t)
	ctx := context.Background()
	if err := f.s.Add(ctx, Root, "adi", []Role{Admin}, []byte("correct horse")); err != nil {
		t.Fatal(err)
	}
	adi := By{Name: "adi", Via: inventory.ViaSocket}
	if err := f.s.Add(ctx, adi, "ani", []Role{Operator}, []byte("123456")); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Add(ctx, adi, "ANI", []Role{Operator}, []byte("123456")); !errors.Is(err, ErrExists) {
		t.Errorf("same name in other case: %v, want ErrExists", err)
	}
	for _, weak := range []string{"12345", "short", " padded secret "} {
		if err := f.s.SetSecret(ctx, adi, "ani", []byte(weak)); !errors.Is(err, ErrWeakSecret) {
			t.Errorf("secret %q: %v, want ErrWeakSecret", weak, err)
		}
	}
	if err := f.s.Add(ctx, adi, "a:b", []Role{Operator}, []byte("123456")); !errors.Is(err, ErrBadName) {
		t.Errorf("name with colon: %v", err)
	}
	a, err := f.s.SignIn(ctx, "ani", []byte("123456"), inventory.ViaWeb)
	if err != nil || a.Name != "ani" || !a.Can(BatchRun) || a.Can(BatchCancel) {
		t.Fatalf("sign-in: %+v %v", a, err)
	}
	// Lockout after MaxFailures wrong secrets; then even the right one fails.
	for i := 0; i < 3; i++ {
		if _, err := f.s.SignIn(ctx, "ani", []byte("654321"), inventory.ViaWeb); !errors.Is(err, ErrSignIn) {
			t.Fatalf("wrong secret %d: %v", i, err)
		}
	}
	_, err = f.s.SignIn(ctx, "ani", []byte("123456"), inventory.ViaWeb)
	var se *SignInError
	if !errors.As(err, &se) || se.Reason != FailLocked {
		t.Fatalf("right secret on a locked account: %v, want locked", err)
	}
	if err := f.s.Unlock(ctx, adi, "ani"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SignIn(ctx, "ani", []byte("123456"), inventory.ViaWeb); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if err := f.s.SetDisabled(ctx, adi, "ani", true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.SignIn(ctx, "ani", []byte("123456"), inventory.ViaWeb); !errors.As(err, &se) || se.Reason != FailDisabled {
		t.Fatalf("disabled: %v", err)
	}
	if _, err := f.s.SignIn(ctx, "nobody", []byte("123456"), inventory.ViaSocket); !errors.As(err, &se) || se.Reason != FailUnknown {
		t.Fatalf("unknown: %v", err)
	}
	if err := f.s.MapUID(ctx, adi, 1001, "ani"); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.ByUID(ctx, 1001); err != nil || got.Name != "ani" {
		t.Fatalf("by uid: %+v %v", got, err)
	}
	if err := f.s.MapUID(ctx, adi, 0, "ani"); err == nil {
		t.Error("root's uid was mapped")
	}

	var got []string
	for _, e := range f.people(t) {
		s := string(e.Kind) + " " + e.Actor + " " + e.Action + " " + e.Subject + " " + e.Reason
		got = append(got, strings.Join(strings.Fields(s), " "))
		if strings.Contains(string(e.Data), "123456") || strings.Contains(string(e.Data), "654321") || strings.Contains(string(e.Data), "horse") {
			t.Errorf("a secret is in the log: %s", e.Data)
		}
	}
	want := []string{
		"account_changed root add adi",
		"account_changed adi add ani",
		"signed_in ani",
		"sign_in_failed ani wrong_secret",
		"sign_in_failed ani wrong_secret",
		"sign_in_failed ani wrong_secret_now_locked",
		"sign_in_failed ani locked",
		"account_changed adi unlock ani",
		"signed_in ani",
		"account_changed adi disable ani",
		"sign_in_failed ani disabled",
		"sign_in_failed (unknown account) unknown_account",
		"account_changed adi map_uid 1001 ani",
	}
	if !slices.Equal(got, want) {
		t.Errorf("people log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if rep, err := inventory.Verify(ctx, f.db, inventory.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// Timing parity by construction: every path of SignIn does one argon2id
// computation at the store's cost before it answers.
func TestSignInDoesTheSameWorkOnEveryPath(t *testing.T) {
	f := newStore(t)
	ctx := context.Background()
	f.s.Add(ctx, Root, "ani", []Role{Operator}, []byte("123456"))
	f.s.Add(ctx, Root, "off", []Role{Operator}, []byte("123456"))
	f.s.SetDisabled(ctx, Root, "off", true)
	f.s.Add(ctx, Root, "lok", []Role{Operator}, []byte("123456"))
	for i := 0; i < 3; i++ {
		f.s.SignIn(ctx, "lok", []byte("000000"), inventory.ViaWeb)
	}
	type call struct {
		time, mem uint32
		threads   uint8
		keyLen    uint32
	}
	var calls []call
	orig := idKey
	t.Cleanup(func() { idKey = orig })
	idKey = func(pw, salt []byte, time, mem uint32, threads uint8, keyLen uint32) []byte {
		calls = append(calls, call{time, mem, threads, keyLen})
		return orig(pw, salt, time, mem, threads, keyLen)
	}
	want := call{testParams.Time, testParams.Memory, testParams.Threads, testParams.KeyLen}
	for _, c := range []struct{ name, secret string }{
		{"ani", "123456"}, {"ani", "999999"}, {"nobody", "123456"}, {"off", "123456"}, {"lok", "123456"},
	} {
		calls = nil
		f.s.SignIn(ctx, c.name, []byte(c.secret), inventory.ViaWeb)
		if len(calls) != 1 || calls[0] != want {
			t.Errorf("sign-in %s/%s: argon2 calls %+v, want exactly one %+v", c.name, c.secret, calls, want)
		}
	}
}

// audit verify finds a sign-in event that was edited or deleted.
func TestVerifyCatchesEditedOrDeletedSignIn(t *testing.T) {
	for _, tamper := range []struct {
		name string
		sql  []string
		want string
	}{
		{"edited", []string{`DROP TRIGGER ledger_events_no_update`,
			`UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"actor":"ani"', '"actor":"adi"') AS BLOB) WHERE kind = 'signed_in'`},
			"row was changed"},
		{"deleted", []string{`DROP TRIGGER ledger_events_no_delete`, `DELETE FROM ledger_events WHERE kind = 'sign_in_failed'`},
			"missing"},
	} {
		t.Run(tamper.name, func(t *testing.T) {
			f := newStore(t)
			ctx := context.Background()
			f.s.Add(ctx, Root, "adi", []Role{Admin}, []byte("123456"))
			f.s.Add(ctx, Root, "ani", []Role{Operator}, []byte("123456"))
			f.s.SignIn(ctx, "ani", []byte("000000"), inventory.ViaWeb)
			f.s.SignIn(ctx, "ani", []byte("123456"), inventory.ViaWeb)
			if _, err := f.l.Checkpoint(ctx, f.db); err != nil {
				t.Fatal(err)
			}
			if rep, err := inventory.Verify(ctx, f.db, inventory.VerifyOptions{}); err != nil || !rep.OK() {
				t.Fatalf("before tampering: %v %+v", err, rep)
			}
			for _, q := range tamper.sql {
				if _, err := f.db.Exec(q); err != nil {
					t.Fatal(q, err)
				}
			}
			rep, err := inventory.Verify(ctx, f.db, inventory.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() {
				t.Fatal("verify found nothing wrong")
			}
			all := ""
			for _, p := range rep.Problems {
				all += p.String() + "\n"
			}
			if !strings.Contains(all, tamper.want) {
				t.Errorf("problems:\n%s\nwant one mentioning %q", all, tamper.want)
			}
		})
	}
}

func TestPairRefusesTheSameAccountTwice(t *testing.T) {
	ani := Account{Name: "ani", Roles: []Role{Operator}}
	budi := Account{Name: "budi", Roles: []Role{Supervisor}}
	adm := Account{Name: "adi", Roles: []Role{Admin}}
	if err := Pair(ani, budi, StockControl); err != nil {
		t.Errorf("two people: %v", err)
	}
	if err := Pair(ani, Account{Name: "ANI", Roles: ani.Roles}, StockControl); !errors.Is(err, ErrSamePerson) {
		t.Errorf("same account twice: %v", err)
	}
	if err := Pair(ani, adm, StockControl); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin as witness: %v", err)
	}
	if err := Pair(adm, ani, StockControl); !errors.Is(err, ErrForbidden) {
		t.Errorf("admin destroying: %v", err)
	}
	if err := Pair(ani, Account{}, StockControl); !errors.Is(err, ErrNeedWitness) {
		t.Errorf("no witness: %v", err)
	}
}

func TestTableSeparatesDuties(t *testing.T) {
	for _, p := range Permissions() {
		if len(Table[p]) == 0 {
			t.Errorf("%s: no role holds it", p)
		}
	}
	for _, p := range Permissions() {
		if p == View || p == Witness || p == AuditRead {
			continue // reading and witnessing change nothing
		}
		if Allows([]Role{Auditor}, p) {
			t.Errorf("auditor may %s: an auditor changes nothing", p)
		}
		if p != ManageUsers && p != LedgerEnrol && Allows([]Role{Admin}, p) {
			t.Errorf("admin may %s: account managers run no cards", p)
		}
	}
	if Allows([]Role{Operator}, BatchCancel) || Allows([]Role{Operator}, JobDecide) || !Allows([]Role{Supervisor}, BatchCancel) {
		t.Error("cancel and decide are a supervisor's")
	}
}

// A read-only check does the same work and counts failures, but only a
// failure reaches the people log.
func TestCheckLogsOnlyFailures(t *testing.T) {
	f := newStore(t)
	ctx := context.Background()
	f.s.Add(ctx, Root, "ani", []Role{Operator}, []byte("123456"))
	before := len(f.people(t))
	if _, err := f.s.Check(ctx, "ani", []byte("123456"), inventory.ViaSocket); err != nil {
		t.Fatal(err)
	}
	if n := len(f.people(t)); n != before {
		t.Fatalf("a successful check added %d events", n-before)
	}
	if _, err := f.s.Check(ctx, "ani", []byte("000000"), inventory.ViaSocket); !errors.Is(err, ErrSignIn) {
		t.Fatal(err)
	}
	evs := f.people(t)
	if last := evs[len(evs)-1]; last.Kind != inventory.SignInFailed || last.Actor != "ani" {
		t.Fatalf("failed check logged as %+v", last.Event)
	}
	if a, _ := f.s.Get(ctx, "ani"); a.Failures != 1 {
		t.Errorf("failures %d after a failed check, want 1", a.Failures)
	}
}
