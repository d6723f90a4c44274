package central_test

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"printstation/sim/central"
)

func newServer(t *testing.T) *central.Server {
	t.Helper()
	s, err := central.New(central.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func do(t *testing.T, h http.Handler, method, path, key, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		r.Header.Set("Idempotency-Key", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code, w.Body.String()
}

func TestOutcomesIdempotent(t *testing.T) {
	s := newServer(t)
	body := `{"items":[{"key":"k1","job_id":"J-1","outcome":"printed","at":"2026-11-24T08:00:00Z"}]}`
	c1, a1 := do(t, s, "POST", "/v1/stations/ST-3201-01/outcomes", "req-1", body)
	// Same key, different body: first answer, nothing changes.
	c2, a2 := do(t, s, "POST", "/v1/stations/ST-3201-01/outcomes", "req-1", `{"items":[{"key":"k2","job_id":"J-2","outcome":"printed"}]}`)
	if c1 != 200 || c2 != 200 || a1 != a2 || !strings.Contains(a1, `"k1"`) {
		t.Fatalf("answers %d %q / %d %q", c1, a1, c2, a2)
	}
	// Same item under a new request key: counted as posted twice, stored once.
	do(t, s, "POST", "/v1/stations/ST-3201-01/outcomes", "req-2", body)
	outs := s.Outcomes("ST-3201-01")
	if len(outs) != 1 || outs[0].Item.JobID != "J-1" || outs[0].Posts != 2 {
		t.Errorf("outcomes = %+v", outs)
	}
	if c, _ := do(t, s, "POST", "/v1/stations/ST-3201-01/outcomes", "", body); c != 400 {
		t.Errorf("no Idempotency-Key: %d", c)
	}
}

func TestStatePersists(t *testing.T) {
	dir := t.TempDir()
	s, _ := central.New(central.Options{Dir: dir})
	ids, _ := s.IssueJobs("ST-3201-01", 3, 2)
	do(t, s, "POST", "/v1/stations/ST-3201-01/outcomes", "r", `{"items":[{"key":"k1","job_id":"`+ids[0]+`","outcome":"printed"}]}`)
	s.Close()
	s2, err := central.New(central.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if got := s2.IssuedJobs("ST-3201-01"); len(got) != 3 {
		t.Errorf("after restart %d jobs", len(got))
	}
	if more, _ := s2.IssueJobs("ST-3201-01", 1, 1); more[0] == ids[2] || more[0] == ids[0] {
		t.Errorf("restart reused job id %s", more[0])
	}
	if len(s2.Outcomes("ST-3201-01")) != 1 {
		t.Error("outcome lost across restart")
	}
}

func TestSyntheticJobs(t *testing.T) {
	p := central.NewPerson(42, &central.Regencies[0])
	if n := len(p.Photo); n < 10<<10 || n > 20<<10 {
		t.Errorf("photo is %d bytes, want 10–20 KB", n)
	}
	if _, err := png.Decode(bytes.NewReader(p.Photo)); err != nil {
		t.Errorf("photo: %v", err)
	}
	chip := 0
	for _, f := range p.Chip.Files {
		chip += len(f.Data)
	}
	if chip < 7<<10 || chip > 9<<10 || len(p.Chip.Files) < 3 || len(p.Chip.Files) > 4 {
		t.Errorf("chip: %d bytes in %d files", chip, len(p.Chip.Files))
	}
	if !strings.HasPrefix(p.Fields["nik"], "3201") || len(p.Fields["nik"]) != 16 || p.Fields["kewarganegaraan"] != "WNI" {
		t.Errorf("fields %v", p.Fields)
	}
}

func TestAdminFaultsAndLongPoll(t *testing.T) {
	s := newServer(t)
	if c, _ := do(t, s, "POST", "/admin/faults", "", `{"error_rate":1}`); c != 200 {
		t.Fatal(c)
	}
	if c, _ := do(t, s, "GET", "/v1/stations/ST-3201-01/jobs?wait=0", "", ""); c != 503 {
		t.Errorf("error_rate 1: %d", c)
	}
	if c, _ := do(t, s, "POST", "/admin/faults", "", `{"eror_rate":1}`); c != 400 {
		t.Errorf("misspelt fault accepted: %d", c)
	}
	do(t, s, "POST", "/admin/faults", "", `{}`)
	do(t, s, "POST", "/admin/issue", "", `{"station":"ST-3201-01","count":3,"batch_size":2}`)
	c, body := do(t, s, "GET", "/v1/stations/ST-3201-01/jobs?wait=0&max=2", "", "")
	var page struct {
		Jobs   []string
		Cursor string
	}
	json.Unmarshal([]byte(body), &page)
	if c != 200 || len(page.Jobs) != 2 || page.Cursor != "2" {
		t.Fatalf("page: %d %d jobs cursor %q", c, len(page.Jobs), page.Cursor)
	}
	_, body = do(t, s, "GET", "/v1/stations/ST-3201-01/jobs?wait=0&cursor=2", "", "")
	json.Unmarshal([]byte(body), &page)
	if len(page.Jobs) != 1 || page.Cursor != "3" {
		t.Errorf("second page: %d jobs cursor %q", len(page.Jobs), page.Cursor)
	}
}
