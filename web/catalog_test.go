package web

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// Ids in templates: {{t "id" ...}}, {{tn "id" ...}}, (t "id"), (tn "id").
var tmplIDRE = regexp.MustCompile(`[{(\s]tn? "([a-z0-9_]+)"`)

// Ids in Go: l.T("id" / l.N("id" and msg("id"); an id followed by + is a
// prefix whose whole ids are in dynamicIDs.
var goIDRE = regexp.MustCompile(`(?:\.[TN]|\bmsg)\("([a-z0-9_]+)"\s*([+,)])`)

// usedIDs collects every message id the page's code and templates use.
func usedIDs(t *testing.T) map[string]bool {
	t.Helper()
	used := map[string]bool{}
	err := fs.WalkDir(assets, "assets/templates", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		for _, m := range tmplIDRE.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	goFiles, _ := filepath.Glob("*.go")
	for _, f := range goFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goIDRE.FindAllStringSubmatch(string(b), -1) {
			if m[2] != "+" {
				used[m[1]] = true
			}
		}
	}
	for _, id := range dynamicIDs() {
		used[id] = true
	}
	return used
}

func catalogIDs(t *testing.T, lang string) map[string]bool {
	t.Helper()
	ids := map[string]bool{}
	for _, f := range catalogFiles(lang) {
		b, err := localeFS.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := toml.Unmarshal(b, &m); err != nil {
			t.Fatalf("catalog %s: %v", f, err)
		}
		for k, v := range m {
			if ids[k] {
				// the bundle would keep one of the two silently
				t.Errorf("catalog %s: %s is already in another %s file", f, k, lang)
			}
			ids[k] = true
			checkForms(t, lang, k, v)
		}
	}
	return ids
}

func checkForms(t *testing.T, lang, k string, v any) {
	t.Helper()
	tbl, ok := v.(map[string]any)
	if !ok {
		return
	}
	if _, ok := tbl["other"]; !ok {
		t.Errorf("catalog %s: %s has no \"other\" form", lang, k)
	}
	if lang == "en" {
		if _, ok := tbl["one"]; !ok {
			t.Errorf("catalog en: %s has a number but no \"one\" form", k)
		}
	}
}

// Every message id the page uses exists in both languages, and every id
// in a catalog is used: a translator never translates a dead string, and
// a person never reads an id.
func TestCatalogComplete(t *testing.T) {
	used := usedIDs(t)
	if len(used) < 100 {
		t.Fatalf("found only %d message ids in the code; the scan is broken", len(used))
	}
	for _, lang := range Languages {
		have := catalogIDs(t, lang)
		var missing, unused []string
		for id := range used {
			if !have[id] {
				missing = append(missing, id)
			}
		}
		for id := range have {
			if !used[id] {
				unused = append(unused, id)
			}
		}
		sort.Strings(missing)
		sort.Strings(unused)
		if len(missing) > 0 {
			t.Errorf("catalog %s lacks %d ids used by the page: %s", lang, len(missing), strings.Join(missing, " "))
		}
		if len(unused) > 0 {
			t.Errorf("catalog %s has %d ids nothing uses: %s", lang, len(unused), strings.Join(unused, " "))
		}
	}
}

// Every message renders in both languages with the data the code gives
// (a template typo in a catalog fails here, not in front of a clerk).
func TestCatalogRenders(t *testing.T) {
	for _, code := range Languages {
		var bad []string
		l := newLang(code, func(id string, err error) { bad = append(bad, id+": "+err.Error()) })
		for id := range usedIDs(t) {
			s := l.N(id, 2, "N", 2, "ID", "B-1", "Name", "p1", "Job", "J-1", "What", "x", "Printer", "p1", "Batch", "B-1",
				"Printed", "1", "Total", "2", "Busy", 1, "Stopped", 0, "Days", "3", "PerDay", "1,5", "Window", 7, "Level", "10",
				"Available", "5", "Clock", "10.00", "Role", "operator", "State", "queued", "Date", "d", "From", "a", "To", "b",
				"Weekday", "w", "Roles", "supervisor", "Witness", "w", "Seq", "7", "Why", "y", "Day", 1, "Month", "m", "Year", 2026, "Mon", "m", "H", "10", "M", "00", "S", "00")
			if strings.Contains(s, "<no value>") {
				bad = append(bad, id+": a placeholder the code does not fill: "+s)
			}
		}
		if len(bad) > 0 {
			t.Errorf("%s: %s", code, strings.Join(bad, "\n"))
		}
	}
}

func TestIndonesianFormats(t *testing.T) {
	id, en := newLang("id", nil), newLang("en", nil)
	at := time.Date(2026, 11, 30, 18, 5, 0, 0, time.Local)
	for _, c := range []struct{ got, want string }{
		{id.Num(1234567), "1.234.567"},
		{en.Num(1234567), "1,234,567"},
		{id.Dec(2.46), "2,5"},
		{en.Dec(2.46), "2.5"},
		{id.Date(at), "Senin, 30 November 2026"},
		{en.Date(at), "Monday, 30 November 2026"},
		{id.Clock(at), "18.05"},
		{en.Clock(at), "18:05"},
		{id.DateTime(at), "30 Nov 2026 18.05"},
		{id.N("summary_waiting", 1, "N", 1), "1 pekerjaan menunggu petugas."},
		{en.N("summary_waiting", 1, "N", 1), "1 job waits for a person."},
		{en.N("summary_waiting", 3, "N", 3), "3 jobs wait for a person."},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestPickLanguage(t *testing.T) {
	req := func(accept, cookie string) *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		if accept != "" {
			r.Header.Set("Accept-Language", accept)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: cookie})
		}
		return r
	}
	for _, c := range []struct {
		accept, cookie, user, station, want string
	}{
		{"", "", "", "", "id"},
		{"", "", "", "en", "en"},
		{"en-US,en;q=0.9", "", "", "id", "en"},
		{"id-ID,id;q=0.9,en;q=0.5", "", "", "en", "id"},
		{"fr-FR,en;q=0.5", "", "", "id", "en"},
		{"fr-FR", "", "", "en", "en"},
		{"en", "id", "", "en", "id"},
		{"id", "en", "", "id", "en"},
		{"id", "id", "en", "id", "en"},
	} {
		if got := pickLang(req(c.accept, c.cookie), c.user, c.station); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q, user %q, station %q: %s, want %s", c.accept, c.cookie, c.user, c.station, got, c.want)
		}
	}
}
