package station

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
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
