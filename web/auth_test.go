package web

import (
	"context"
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/storage"
)

// testAccounts is a real account store on a real ledger in a temporary
// database, with argon2 costs cut down (the same code paths).
type testAccounts struct {
	*accounts.Store
	t  *testing.T
	db *sql.DB
}

func secretOf(name string) string { return "pw-" + name + "-secret" }

func newAccounts(t *testing.T) *testAccounts {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := storage.Open(ctx, filepath.Join(dir, "station.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	signer, _, err := inventory.LoadOrCreateSigner(filepath.Join(dir, "ledger.key"), "station-w1")
	if err != nil {
		t.Fatal(err)
	}
	l, err := inventory.Open(ctx, db, inventory.Options{StationID: "w1", Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	s, err := accounts.Open(ctx, db, accounts.Options{Ledger: l, Params: accounts.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	return &testAccounts{Store: s, t: t, db: db}
}

func (a *testAccounts) add(name, roles string) {
	a.t.Helper()
	rs, err := accounts.ParseRoles(roles)
	if err != nil {
		a.t.Fatal(err)
	}
	if err := a.Add(context.Background(), accounts.Root, name, rs, []byte(secretOf(name))); err != nil {
		a.t.Fatal(err)
	}
}

// people lists the people log as "kind actor action subject reason".
func (a *testAccounts) people() []string {
	a.t.Helper()
	rows, err := a.db.Query(`SELECT data FROM ledger_events ORDER BY seq`)
	if err != nil {
		a.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d []byte
		rows.Scan(&d)
		e, err := inventory.ParseEntry(d)
		if err != nil {
			a.t.Fatal(err)
		}
		if inventory.IsPeople(e.Kind) {
			out = append(out, strings.Join(strings.Fields(string(e.Kind)+" "+e.Actor+" "+e.Action+" "+e.Subject+" "+e.Job+" "+e.Reason), " "))
		}
	}
	return out
}

// pageRoute is one of the page's routes, the permission it needs and a
// request that exercises it for a person with role.
type pageRoute struct {
	perm   accounts.Permission
	method string
	path   string
	form   func(role accounts.Role) url.Values
}

var pageRoutes = []pageRoute{
	{accounts.View, "GET", "/live", nil},
	{accounts.BatchRun, "POST", "/batch", func(accounts.Role) url.Values { return url.Values{"batch": {"B-001"}, "action": {"start"}} }},
	{accounts.BatchCancel, "GET", "/act?batch=B-002&action=cancel", nil},
	{accounts.BatchCancel, "POST", "/batch", func(accounts.Role) url.Values {
		return url.Values{"batch": {"B-002"}, "action": {"cancel"}, "reason": {"test"}}
	}},
	{accounts.JobRetry, "POST", "/attention", func(accounts.Role) url.Values { return url.Values{"job": {"J-78"}, "action": {"retry"}} }},
	{accounts.JobDecide, "GET", "/act?job=J-77&action=spoil", nil},
	{accounts.JobDecide, "POST", "/attention", func(accounts.Role) url.Values {
		return url.Values{"job": {"J-77"}, "action": {"spoil"}, "reason": {"test"}}
	}},
	{accounts.PrinterResume, "POST", "/printer", func(accounts.Role) url.Values { return url.Values{"printer": {"p2"}, "action": {"resume"}} }},
	{accounts.StockControl, "GET", "/stock", nil},
	{accounts.StockControl, "POST", "/stock", func(accounts.Role) url.Values {
		return url.Values{"op": {"destroy"}, "quantity": {"1"}, "record_ref": {"M-1"}, "witness_name": {"wit"}, "witness_secret": {secretOf("wit")}}
	}},
	// The role under test is the witness; the first person is "first", a supervisor.
	{accounts.Witness, "POST", "/stock", func(r accounts.Role) url.Values {
		return url.Values{"op": {"destroy"}, "quantity": {"1"}, "record_ref": {"M-1"}, "witness_name": {string(r)}, "witness_secret": {secretOf(string(r))}}
	}},
	{accounts.View, "GET", "/tech", nil},
	// p1 of the fake prints, so every button is refused for it: probe on
	// p2 (paused for a jam), which the guidance table allows.
	{accounts.PrinterDiag, "POST", "/tech", func(accounts.Role) url.Values { return url.Values{"printer": {"p2"}, "op": {"probe"}} }},
	{accounts.AuditRead, "GET", "/audit/spoiled", nil},
	{accounts.ManageUsers, "GET", "/users", nil},
	{accounts.ManageUsers, "POST", "/users", func(accounts.Role) url.Values {
		return url.Values{"action": {"unlock"}, "name": {"wit"}}
	}},
}

// Every page route × every role: allowed exactly when the role table says.
func TestPageRouteByRole(t *testing.T) {
	covered := map[accounts.Permission]bool{}
	for _, rt := range pageRoutes {
		covered[rt.perm] = true
		for _, role := range accounts.AllRoles {
			f := newFake()
			c := newClient(t, f)
			for _, r := range accounts.AllRoles {
				c.acc.add(string(r), string(r))
			}
			c.acc.add("wit", "supervisor")
			c.acc.add("first", "supervisor")
			user, as := string(role), string(role)
			if rt.perm == accounts.Witness {
				user, as = "first", Supervisor
			}
			c.signIn(user, as)
			var rec interface {
				Result() *http.Response
			}
			if rt.method == "GET" {
				rec = c.get(rt.path)
			} else {
				rec = c.post(rt.path, rt.form(role))
			}
			code := rec.Result().StatusCode
			want := accounts.Allows([]accounts.Role{role}, rt.perm)
			// A refused POST redirects with the refusal as a note
			// (POST-redirect-GET); a page answers 403 in place.
			refused := code == http.StatusForbidden || code == http.StatusUnauthorized
			if code == http.StatusSeeOther {
				refused = strings.Contains(c.get(rec.Result().Header.Get("Location")).Body.String(), "Your account may not do this")
			}
			if got := !refused; got != want {
				t.Errorf("%s %s (%s) as %s: %d, allowed=%v", rt.method, rt.path, rt.perm, role, code, want)
			}
			if !want && len(f.Calls()) != 0 {
				t.Errorf("%s %s as %s reached the engine: %q", rt.method, rt.path, role, f.Calls())
			}
		}
	}
	for _, p := range accounts.Permissions() {
		if !covered[p] && p != accounts.LedgerEnrol && p != accounts.OfflineStart { // re-enrolling, an offline start are the CLI's
			t.Errorf("permission %s has no page route in this test", p)
		}
	}
}

// The reason pages' links, as the page shows them.
const (
	cancelLink = `href="/act?batch=B-001&amp;action=cancel"`
	spoilLink  = `href="/act?job=J-77&amp;action=spoil"`
)

// The page shows a role only the buttons it may press.
func TestPageHidesWhatARoleCannotDo(t *testing.T) {
	for _, tt := range []struct {
		role       string
		want, hide []string
	}{
		{Operator, []string{`value="start"`, `value="retry"`, "Only a supervisor may decide.", `id="stock-link"`}, []string{cancelLink, spoilLink, `id="users-link"`}},
		{Supervisor, []string{`value="start"`, cancelLink, spoilLink, `id="stock-link"`}, []string{`id="users-link"`}},
		{"auditor", []string{"B-001"}, []string{`value="start"`, cancelLink, `value="retry"`, `value="resume"`, `id="stock-link"`}},
		{"admin", []string{`id="users-link"`}, []string{`value="start"`, cancelLink, `id="stock-link"`}},
		{"technician", []string{`name="printer" value="p2"`, `value="resume"`}, []string{`value="start"`, cancelLink, `value="retry"`}},
	} {
		c := signedIn(t, newFake(), "someone", tt.role)
		body := c.get("/").Body.String()
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s's page lacks %q", tt.role, w)
			}
		}
		for _, h := range tt.hide {
			if strings.Contains(body, h) {
				t.Errorf("%s's page shows %q", tt.role, h)
			}
		}
	}
}

func TestLockoutThroughThePage(t *testing.T) {
	c := newClient(t, newFake())
	c.acc.add("Sari", Operator)
	c.get("/")
	for i := 0; i < 5; i++ {
		page := c.next(c.post("/signin", url.Values{"name": {"Sari"}, "secret": {"guess-0000"}}))
		if !strings.Contains(page, "wrong name or secret") && !strings.Contains(page, "locked") || !strings.Contains(page, `id="signin"`) {
			t.Fatalf("wrong secret %d:\n%s", i, page)
		}
	}
	page := c.next(c.post("/signin", url.Values{"name": {"Sari"}, "secret": {secretOf("Sari")}}))
	if !strings.Contains(page, "locked") || !strings.Contains(page, `id="signin"`) {
		t.Fatalf("right secret on a locked account:\n%s", page)
	}
	log := strings.Join(c.acc.people(), "\n")
	if strings.Count(log, "sign_in_failed Sari wrong_secret") != 5 || !strings.Contains(log, "sign_in_failed Sari locked") {
		t.Errorf("people log:\n%s", log)
	}
}

func TestSessionEndsWhenAccountDisabledOrIdle(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "Sari", Operator)
	if err := c.acc.SetDisabled(context.Background(), accounts.Root, "Sari", true); err != nil {
		t.Fatal(err)
	}
	if body := c.get("/").Body.String(); !strings.Contains(body, `action="/signin"`) {
		t.Fatalf("a disabled account's session goes on:\n%s", body)
	}
	if rec := c.post("/batch", url.Values{"batch": {"B-001"}, "action": {"start"}}); rec.Code != http.StatusForbidden || len(f.Calls()) != 0 {
		t.Fatalf("a disabled account's POST: %d, calls %q", rec.Code, f.Calls())
	}

	c = signedIn(t, f, "Budi", Operator)
	hd := c.h.(*handler)
	hd.sessions.mu.Lock()
	for _, s := range hd.sessions.m {
		s.lastSeen = s.lastSeen.Add(-DefaultIdle - time.Minute)
	}
	hd.sessions.mu.Unlock()
	if rec := c.get("/live"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("/live after the idle time: %d", rec.Code)
	}
	log := strings.Join(c.acc.people(), "\n")
	if !strings.Contains(log, "signed_out Budi idle") {
		t.Errorf("people log lacks the idle sign-out:\n%s", log)
	}
}

func TestLiveRefreshesKeepNoSessionAlive(t *testing.T) {
	c := signedIn(t, newFake(), "Sari", Operator)
	hd := c.h.(*handler)
	var before time.Time
	hd.sessions.mu.Lock()
	for _, s := range hd.sessions.m {
		s.lastSeen = s.lastSeen.Add(-time.Minute)
		before = s.lastSeen
	}
	hd.sessions.mu.Unlock()
	c.get("/live")
	hd.sessions.mu.Lock()
	defer hd.sessions.mu.Unlock()
	for _, s := range hd.sessions.m {
		if s.Name == "Sari" && !s.lastSeen.Equal(before) {
			t.Error("a live refresh counted as the person's activity")
		}
	}
}

func TestDualControlOnThePage(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "ani", Operator)
	c.acc.add("sari", Supervisor)
	c.acc.add("adi", "admin")
	if body := c.get("/stock").Body.String(); !strings.Contains(body, `name="witness_secret"`) || !strings.Contains(body, `id="destroy"`) {
		t.Fatalf("the stock page lacks the witness's sign-in box:\n%s", body)
	}
	destroy := func(wname, wsecret string) (int, string) {
		rec := c.post("/stock", url.Values{"op": {"destroy"}, "quantity": {"2"}, "record_ref": {"BA-7"}, "witness_name": {wname}, "witness_secret": {wsecret}})
		if rec.Code == http.StatusSeeOther {
			return rec.Code, c.get("/stock").Body.String()
		}
		return rec.Code, rec.Body.String()
	}
	if code, body := destroy("ani", secretOf("ani")); code != http.StatusForbidden || !strings.Contains(body, "someone else") {
		t.Errorf("the same account as witness: %d\n%s", code, body)
	}
	if code, body := destroy("sari", "wrong-secret"); code != http.StatusUnauthorized || !strings.Contains(body, "wrong name or secret") {
		t.Errorf("a wrong witness secret: %d\n%s", code, body)
	}
	if code, body := destroy("adi", secretOf("adi")); code != http.StatusForbidden || !strings.Contains(body, "may not witness") {
		t.Errorf("an admin as witness: %d\n%s", code, body)
	}
	if len(f.Calls()) != 0 {
		t.Fatalf("a refused destruction reached the engine: %q", f.Calls())
	}
	code, body := destroy("sari", secretOf("sari"))
	if code != http.StatusSeeOther || !strings.Contains(body, "witnessed by sari") {
		t.Fatalf("destruction by ani and sari: %d\n%s", code, body)
	}
	if got := f.Calls(); len(got) != 1 || got[0] != "stock destroy 2 ani witnesses=ani,sari approvers=" {
		t.Fatalf("engine calls %q", got)
	}
	// A cancel needs a reason, which the people log keeps.
	s := signedIn(t, f, "budi", Supervisor)
	if page := s.next(s.post("/batch", url.Values{"batch": {"B-002"}, "action": {"cancel"}})); !strings.Contains(page, "write the reason first") {
		t.Fatalf("cancel without a reason:\n%s", page)
	}
	s.post("/batch", url.Values{"batch": {"B-002"}, "action": {"cancel"}, "reason": {"wrong district"}})
	if log := strings.Join(s.acc.people(), "\n"); !strings.Contains(log, "action budi batch_cancel B-002 wrong district") {
		t.Errorf("people log lacks the cancel with its reason:\n%s", log)
	}
}

// The dual-control and accounts pages speak Indonesian, with the same
// header, menu and language switch as the other pages, down to their
// refusals and outcomes.
func TestStockAndUsersPagesInIndonesian(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "ani", Supervisor)
	c.acc.add("sari", Supervisor)
	c.accept = "id"
	check := func(what, body string, want, not []string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s lacks %q", what, w)
			}
		}
		for _, n := range not {
			if strings.Contains(body, n) {
				t.Errorf("%s still says %q", what, n)
			}
		}
		if t.Failed() {
			t.Fatalf("%s:\n%s", what, body)
		}
	}
	frame := []string{`<html lang="id">`, `id="lang-en"`, `href="#main"`, `id="signout"`}
	english := []string{"Destroy spoiled blanks", "Adjust the stock", "Close the shift", "Witness", "How many", "Record the destruction", "Back to the print room", "Counted in"}
	check("/stock", c.get("/stock").Body.String(),
		append(frame, "<h1>Stok blangko</h1>", `<h2 id="h-control">Stok: pemusnahan, penyesuaian, tutup shift</h2>`, "Terima", "Muat", "Keluarkan", "Musnahkan blangko rusak", "Sesuaikan stok", "Saksi: orang kedua masuk di sini",
			"Nomor berita acara pemusnahan", "Jumlah dihitung di printer p1", `id="stock-link" aria-current="page"`), english)
	rec := c.post("/stock", url.Values{"op": {"destroy"}, "quantity": {"2"}, "record_ref": {"BA-7"}, "witness_name": {"ani"}, "witness_secret": {secretOf("ani")}})
	check("a refused destruction", rec.Body.String(), append(frame, "Ditolak: saksi harus orang lain"), append(english, "someone else"))
	page := c.next(c.post("/stock", url.Values{"op": {"destroy"}, "quantity": {"2"}, "record_ref": {"BA-7"}, "witness_name": {"sari"}, "witness_secret": {secretOf("sari")}}))
	check("a recorded destruction", page, []string{"Dicatat: pemusnahan oleh ani, disaksikan sari"}, append(english, "Recorded"))

	a := signedIn(t, f, "adi", "admin")
	a.acc.add("budi", Operator)
	a.accept = "id"
	englishUsers := []string{"New account", "Add the account", "Roles", "Disable", "The same again", "Back to the print room", ">active<"}
	check("/users", a.get("/users").Body.String(),
		append(frame, "<h1>Akun</h1>", "Akun baru", "Tambahkan akun", "Nonaktifkan", "Peran", `id="users-link" aria-current="page"`, ">aktif<"), englishUsers)
	rec = a.post("/users", url.Values{"action": {"add"}, "name": {"cici"}, "role": {"operator"}, "secret": {"rahasia-123"}, "secret2": {"rahasia-124"}})
	check("secrets that differ", rec.Body.String(), []string{"Kedua kata sandi berbeda"}, append(englishUsers, "secrets differ"))
	page = a.next(a.post("/users", url.Values{"action": {"disable"}, "name": {"budi"}}))
	check("a disabled account", page, []string{"Akun budi dinonaktifkan", ">nonaktif<", "Aktifkan"}, append(englishUsers, "disable done"))
}
