package web

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// FuzzForms sends arbitrary form bodies from a signed-in supervisor: the
// page answers every one without a 500, and the engine only ever sees a
// known action on a well-formed id.
func FuzzForms(f *testing.F) {
	f.Add(uint8(0), "batch=B-001&action=start")
	f.Add(uint8(0), "batch=B-999&action=cancel")
	f.Add(uint8(1), "job=J-77&action=confirm")
	f.Add(uint8(1), "job=%00&action=spoil")
	f.Add(uint8(2), "printer=p2&action=resume")
	f.Add(uint8(3), "name=%E2%80%AE&role=operator")
	f.Add(uint8(0), "batch=B-001;action=start&&&=%zz")
	paths := []string{"/batch", "/attention", "/printer", "/signin", "/signout"}
	f.Fuzz(func(t *testing.T, which uint8, body string) {
		fk := newFake()
		c := &client{t: t, h: New(fk, Options{Log: zerolog.Nop()})}
		c.get("/")
		c.post("/signin", url.Values{"name": {"Sari"}, "role": {Supervisor}})
		c.get("/")
		req := httptest.NewRequest("POST", paths[int(which)%len(paths)], strings.NewReader(body+"&csrf="+url.QueryEscape(c.csrf)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://127.0.0.1:8080")
		rec := c.do(req)
		if rec.Code >= 500 {
			t.Fatalf("%q → %d:\n%s", body, rec.Code, rec.Body)
		}
		for _, call := range fk.Calls() {
			fields := strings.Fields(call)
			for _, fld := range fields {
				if !validID(fld) {
					t.Fatalf("engine called with a malformed id: %q", call)
				}
			}
		}
	})
}
