package station

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"printstation/accounts"
)

// apiRig serves the local API over a real unix socket (so SO_PEERCRED
// runs) with one account per role; each account's secret is its name
// plus "-secret".
type apiRig struct {
	*rig
	acc  *accounts.Store
	sock string
	hc   *http.Client
}

func newAPIRig(t *testing.T) *apiRig {
	r := newRig(t, "p1")
	e := r.open()
	r.addJobs("B1", 1)
	r.stock("p1")
	ctx := context.Background()
	acc, err := accounts.Open(ctx, e.db, accounts.Options{Ledger: e.ledger, Params: accounts.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	for _, role := range accounts.AllRoles {
		if err := acc.Add(ctx, accounts.Root, string(role), []accounts.Role{role}, []byte(string(role)+"-secret")); err != nil {
			t.Fatal(err)
		}
	}
	acc.Add(ctx, accounts.Root, "second", []accounts.Role{accounts.Supervisor}, []byte("second-secret"))
	mux := http.NewServeMux()
	e.routes(mux, acc)
	sock := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: authenticate(acc, mux), ConnContext: peerContext}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	return &apiRig{rig: r, acc: acc, sock: sock, hc: hc}
}

// call sends a request as user (none: as this process's uid) with an
// optional witness, and returns the status and body.
func (a *apiRig) call(user, witness, method, path, body string) (int, string) {
	a.t.Helper()
	req, _ := http.NewRequest(method, "http://printstationd"+path, strings.NewReader(body))
	if user != "" {
		req.Header.Set("Authorization", BasicAuth(user, []byte(user+"-secret")))
	}
	if witness != "" {
		req.Header.Set(WitnessHeader, BasicAuth(witness, []byte(witness+"-secret")))
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// One request per permission of the role table, chosen so that an allowed
// one changes nothing another needs (unknown batch and job ids answer 404
// after the permission check).
type permRequest struct{ witness, method, path, body string }

func requestFor(p accounts.Permission, role accounts.Role) permRequest {
	wit := "second"
	switch p {
	case accounts.View:
		return permRequest{"", "GET", "/v1/stock", ""}
	case accounts.BatchRun:
		return permRequest{"", "POST", "/v1/batches/NOPE/pause", `{}`}
	case accounts.BatchCancel:
		return permRequest{"", "POST", "/v1/batches/NOPE/cancel", `{"reason":"test"}`}
	case accounts.JobRetry:
		return permRequest{"", "POST", "/v1/attention/NOPE/retry", `{}`}
	case accounts.JobDecide:
		return permRequest{"", "POST", "/v1/attention/NOPE/spoil", `{"reason":"test"}`}
	case accounts.PrinterResume:
		return permRequest{"", "POST", "/v1/printers/p1/resume", ``}
	case accounts.StockMove:
		return permRequest{"", "POST", "/v1/stock", `{"op":"receive","quantity":1,"delivery_ref":"D9"}`}
	case accounts.StockControl:
		// nothing is spoiled, so an allowed destroy is refused by the
		// ledger (409), never by the role table (403).
		return permRequest{wit, "POST", "/v1/stock", `{"op":"destroy","quantity":1,"record_ref":"M1"}`}
	case accounts.Witness:
		// The role is the witness here; the first person is a supervisor.
		return permRequest{string(role), "POST", "/v1/stock", `{"op":"destroy","quantity":1,"record_ref":"M1"}`}
	case accounts.ManageUsers:
		return permRequest{"", "GET", "/v1/users", ""}
	case accounts.AuditRead:
		return permRequest{"", "GET", "/v1/audit/verify", ""}
	case accounts.PrinterDiag:
		// Allowed, it is refused by the station (no such printer), 409.
		return permRequest{"", "POST", "/v1/printers/NOPE/diag/probe", ``}
	case accounts.OfflineStart:
		// Allowed, it is refused by the station (no centre here, nothing
		// waits for it), 409.
		return permRequest{"", "POST", "/v1/witness/release", `{"reason":"test"}`}
	case accounts.StockRequest:
		// Allowed, it is queued for the centre; the same id each time is
		// the one request.
		return permRequest{"", "POST", "/v1/stock/requests", `{"id":"api-route-test","quantity":1}`}
	case accounts.LedgerEnrol:
		// Allowed, it is refused by the station (nothing to re-enrol), 409.
		return permRequest{"", "POST", "/v1/enrolment", `{"reason":"test"}`}
	}
	return permRequest{}
}

func TestAPIRouteByRole(t *testing.T) {
	a := newAPIRig(t)
	for _, p := range accounts.Permissions() {
		for _, role := range accounts.AllRoles {
			rq := requestFor(p, role)
			if rq.method == "" {
				t.Fatalf("permission %s has no request in this test: add one", p)
			}
			user := string(role)
			if p == accounts.Witness {
				user = "second"
			}
			code, body := a.call(user, rq.witness, rq.method, rq.path, rq.body)
			want := accounts.Allows([]accounts.Role{role}, p)
			if got := code != http.StatusForbidden && code != http.StatusUnauthorized; got != want {
				t.Errorf("%s as %s: %s %s answered %d %s; allowed=%v", p, role, rq.method, rq.path, code, strings.TrimSpace(body), want)
			}
		}
	}
}

func TestAPIIdentityAndDualControl(t *testing.T) {
	a := newAPIRig(t)
	// Root without a name may read and manage accounts, not act on cards.
	if code, body := a.call("", "", "GET", "/v1/stock", ""); code != 200 {
		t.Errorf("root reading stock: %d %s", code, body)
	}
	if code, body := a.call("", "", "POST", "/v1/batches/B1/start", `{}`); code != 403 {
		t.Errorf("root starting a batch: %d %s", code, body)
	}
	// The old actor field must name who signed in.
	if code, body := a.call("operator", "", "POST", "/v1/batches/B1/start", `{"actor":"supervisor"}`); code != 403 {
		t.Errorf("actor naming someone else: %d %s", code, body)
	}
	if code, body := a.call("supervisor", "", "POST", "/v1/batches/B1/cancel", `{}`); code != 400 || !strings.Contains(body, "reason") {
		t.Errorf("cancel without a reason: %d %s", code, body)
	}
	// Dual control: no witness, the same account twice, a wrong witness secret.
	destroy := `{"op":"destroy","quantity":1,"record_ref":"M1"}`
	if code, body := a.call("operator", "", "POST", "/v1/stock", destroy); code != 400 || !strings.Contains(body, "second person") {
		t.Errorf("destroy without a witness: %d %s", code, body)
	}
	if code, body := a.call("operator", "operator", "POST", "/v1/stock", destroy); code != 403 || !strings.Contains(body, "someone else") {
		t.Errorf("destroy witnessed by the same account: %d %s", code, body)
	}
	req, _ := http.NewRequest("POST", "http://printstationd/v1/stock", strings.NewReader(destroy))
	req.Header.Set("Authorization", BasicAuth("operator", []byte("operator-secret")))
	req.Header.Set(WitnessHeader, BasicAuth("second", []byte("wrong-secret")))
	resp, err := a.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("destroy with a wrong witness secret: %d", resp.StatusCode)
	}
	// A real adjustment by two people records both as approvers.
	if code, body := a.call("operator", "second", "POST", "/v1/stock", `{"op":"adjust","location":"storage","quantity":-1,"reason":"damaged"}`); code != 200 {
		t.Fatalf("adjust by two people: %d %s", code, body)
	}
	var data string
	a.eng.db.QueryRow(`SELECT data FROM ledger_events WHERE kind='adjusted'`).Scan(&data)
	if !strings.Contains(data, `"approvers":["operator","second"]`) {
		t.Errorf("adjustment event: %s", data)
	}
	if code, body := a.call("operator", "", "POST", "/v1/stock", `{"op":"spoil","quantity":2}`); code != 200 {
		t.Fatalf("spoil 2 damaged blanks: %d %s", code, body)
	}
	if code, body := a.call("operator", "second", "POST", "/v1/stock", `{"op":"destroy","quantity":2,"record_ref":"BA-7"}`); code != 200 {
		t.Fatalf("destroy by two people: %d %s", code, body)
	}
	a.eng.db.QueryRow(`SELECT data FROM ledger_events WHERE kind='destroyed'`).Scan(&data)
	if !strings.Contains(data, `"witnesses":["operator","second"]`) {
		t.Errorf("destruction event: %s", data)
	}
	if code, body := a.call("supervisor", "", "POST", "/v1/batches/B1/cancel", `{"reason":"wrong district"}`); code != 200 {
		t.Fatalf("cancel: %d %s", code, body)
	}
	a.eng.db.QueryRow(`SELECT data FROM ledger_events WHERE kind='action' ORDER BY seq DESC LIMIT 1`).Scan(&data)
	if !strings.Contains(data, `"actor":"supervisor"`) || !strings.Contains(data, `"action":"batch_cancel"`) || !strings.Contains(data, `"reason":"wrong district"`) {
		t.Errorf("cancel in the people log: %s", data)
	}
}

func TestAPILockoutThroughTheSocket(t *testing.T) {
	a := newAPIRig(t)
	bad := func() int {
		req, _ := http.NewRequest("GET", "http://printstationd/v1/stock", nil)
		req.Header.Set("Authorization", BasicAuth("operator", []byte("guess-1234")))
		resp, err := a.hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := 0; i < 5; i++ {
		if c := bad(); c != 401 {
			t.Fatalf("wrong secret %d: %d", i, c)
		}
	}
	if code, body := a.call("operator", "", "GET", "/v1/stock", ""); code != 401 || !strings.Contains(body, "locked") {
		t.Fatalf("right secret after 5 wrong ones: %d %s", code, body)
	}
	if code, body := a.call("admin", "", "POST", "/v1/users/unlock", `{"name":"operator"}`); code != 200 {
		t.Fatalf("unlock: %d %s", code, body)
	}
	if code, body := a.call("operator", "", "GET", "/v1/stock", ""); code != 200 {
		t.Fatalf("after unlock: %d %s", code, body)
	}
}
