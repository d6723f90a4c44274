package station

import (
	"encoding/json"
	"strings"
	"testing"
)

// GET /v1/audit/verify verifies the live ledger; without a centre it says
// the centre's record was not compared, and a rewritten event fails it.
func TestAuditVerifyThroughTheSocket(t *testing.T) {
	a := newAPIRig(t)
	var res struct {
		Pass           bool   `json:"pass"`
		CentreCompared bool   `json:"centre_compared"`
		CentreError    string `json:"centre_error"`
		Report         struct {
			Events   int64 `json:"events"`
			Problems []struct {
				What string `json:"what"`
			} `json:"problems"`
		} `json:"report"`
	}
	code, body := a.call("auditor", "", "GET", "/v1/audit/verify", "")
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil {
		t.Fatalf("%d %v: %s", code, err, body)
	}
	if !res.Pass || res.Report.Events == 0 || res.CentreCompared || !strings.Contains(res.CentreError, "no central server") {
		t.Fatalf("an intact ledger with no centre: %s", body)
	}
	db := a.eng.db
	for _, q := range []string{`DROP TRIGGER ledger_events_no_update`,
		`UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"actor"', '"actor" ') AS BLOB) WHERE seq = 1`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	code, body = a.call("auditor", "", "GET", "/v1/audit/verify", "")
	res.Pass = true
	if err := json.Unmarshal([]byte(body), &res); code != 200 || err != nil || res.Pass || len(res.Report.Problems) == 0 {
		t.Fatalf("a rewritten event: %d %v: %s", code, err, body)
	}
}
