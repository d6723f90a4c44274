package station

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"printstation/accounts"
)

// A socket action the role table refuses is in the daemon's journal
// (route, permission, the caller's role, no name), as the page's are; one
// allowed is not. Before, a refused test card or stock request through
// printstationctl was recorded nowhere.
func TestRefusedSocketActionIsInTheJournal(t *testing.T) {
	a := newAPIRig(t)
	mux := http.NewServeMux()
	a.rig.eng.routes(mux, a.acc)
	var journal bytes.Buffer
	h := journalRefusals(zerolog.New(&journal), mux)
	as := func(role accounts.Role, method, path string) int {
		req := httptest.NewRequest(method, path, strings.NewReader("{}"))
		c := Caller{Account: accounts.Account{Name: "sari-" + string(role), Roles: []accounts.Role{role}}}
		req = req.WithContext(context.WithValue(req.Context(), callerKey{}, c))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	if code := as(accounts.Operator, "POST", "/v1/printers/p1/diag/test-card"); code != http.StatusForbidden {
		t.Fatalf("an operator's test card: %d", code)
	}
	if code := as(accounts.Auditor, "POST", "/v1/stock/requests"); code != http.StatusForbidden {
		t.Fatalf("an auditor's request for blanks: %d", code)
	}
	out := journal.String()
	for _, want := range []string{
		`"route":"POST /v1/printers/{name}/diag/{op}","permission":"printer.diag","role":"operator"`,
		`"route":"POST /v1/stock/requests","permission":"stock.request","role":"auditor"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the journal lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sari-") {
		t.Errorf("the journal names the person:\n%s", out)
	}
	journal.Reset()
	as(accounts.Supervisor, "GET", "/v1/stock/requests")
	if journal.Len() != 0 {
		t.Errorf("an allowed request is journalled as refused:\n%s", journal.String())
	}
}

// syncBuffer is a journal the engine's goroutines may write while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A technician's action the guidance table refuses through the socket
// (here: the printer is printing) is in the journal, as the page's
// refused buttons are, with the role and not the name.
func TestSocketDiagNotDoneIsInTheJournal(t *testing.T) {
	r := newRig(t, "p1")
	var journal syncBuffer
	r.journal = &journal
	e := r.open()
	r.stock("p1")
	acc, err := accounts.Open(context.Background(), e.db, accounts.Options{Ledger: e.ledger, Params: accounts.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.routes(mux, acc)
	e.byName["p1"].set(wPrinting, "", "J-1")
	req := httptest.NewRequest("POST", "/v1/printers/p1/diag/test-card", strings.NewReader("{}"))
	req = req.WithContext(context.WithValue(req.Context(), callerKey{}, Caller{Account: accounts.Account{Name: "tek-budi", Roles: []accounts.Role{accounts.Technician}}}))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusConflict {
		t.Fatalf("a test card while printing: %d %s", rec.Code, rec.Body.String())
	}
	out := journal.String()
	if !strings.Contains(out, `"printer":"p1","op":"test-card","role":"technician","message":"technician's action through the socket not done"`) {
		t.Errorf("the journal lacks the refused test card:\n%s", out)
	}
	if strings.Contains(out, "tek-budi") {
		t.Errorf("the journal names the person:\n%s", out)
	}
}
