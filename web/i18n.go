package web

// The page's words live in message catalogs, one TOML file per language
// under locales/ (embedded), read by github.com/nicksnyder/go-i18n/v2.
// go-i18n rather than golang.org/x/text/message: its catalogs are plain
// TOML files a translator edits without Go (x/text wants generated Go
// catalogs from gotext), and it has CLDR plural rules (Indonesian has one
// form, English two). x/text's number formatting is still used for
// numbers ("1.234" in Indonesian, "1,234" in English).
//
// How to add a string (also for other pages that use these catalogs):
//  1. use it: {{t "my_id"}} or {{t "my_id" "Name" .Value}} in a template,
//     {{tn "my_id" .Count "Count" .Count}} when it has a plural, or the
//     lang's T and N methods in Go (msg marks an id kept in a variable);
//  2. add my_id to locales/active.id.toml (Indonesian, the first language)
//     and locales/active.en.toml (or the screen group's NAME.id.toml and
//     NAME.en.toml), with a description for the translator;
//  3. go test ./web -run Catalog: it fails on an id used but missing in a
//     language, and on an id in a catalog that nothing uses.
// Ids built at run time (codes from the engine, states, months) are listed
// in dynamicIDs so the catalog test knows them.

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/number"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station"
)

// Languages the page speaks, the first being the default.
var Languages = []string{"id", "en"}

//go:embed locales/*.toml
var localeFS embed.FS

var bundle = func() *i18n.Bundle {
	b := i18n.NewBundle(language.Indonesian)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, l := range Languages {
		for _, f := range catalogFiles(l) {
			if _, err := b.LoadMessageFileFS(localeFS, f); err != nil {
				panic(fmt.Sprintf("web: message catalog %s: %v", f, err))
			}
		}
	}
	return b
}()

// catalogFiles lists a language's catalog files: active.LANG.toml for the
// pages every person uses and one file per group of screens
// (tech.LANG.toml, audit.LANG.toml, ...), so that the screens of one
// role are translated, reviewed and changed together.
func catalogFiles(lang string) []string {
	files, err := fs.Glob(localeFS, "locales/*."+lang+".toml")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("web: no message catalog for %s under locales/", lang))
	}
	return files
}

// lang is one request's language: the translator and the formats.
type lang struct {
	Code string // "id" or "en"
	loc  *i18n.Localizer
	num  *message.Printer
	// missing reports an id with no message (a bug the catalog test
	// catches); the page shows the id rather than failing.
	missing func(id string, err error)
	// plain caches the messages without data (most of a page's words).
	plain sync.Map
}

func newLang(code string, missing func(string, error)) *lang {
	tag := language.Indonesian
	if code == "en" {
		tag = language.English
	}
	if missing == nil {
		missing = func(string, error) {}
	}
	return &lang{Code: code, loc: i18n.NewLocalizer(bundle, code), num: message.NewPrinter(tag), missing: missing}
}

// pairs turns "Key", value, ... into template data.
func pairs(kv []any) map[string]any {
	if len(kv) == 0 {
		return nil
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := kv[i].(string)
		m[k] = kv[i+1]
	}
	return m
}

// T translates id with optional "Key", value pairs.
func (l *lang) T(id string, kv ...any) string {
	if len(kv) == 0 {
		if s, ok := l.plain.Load(id); ok {
			return s.(string)
		}
	}
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: pairs(kv)})
	if err != nil {
		l.missing(id, err)
		return id
	}
	if len(kv) == 0 {
		l.plain.Store(id, s)
	}
	return s
}

// N translates id choosing the plural form for count.
func (l *lang) N(id string, count any, kv ...any) string {
	s, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id, PluralCount: count, TemplateData: pairs(kv)})
	if err != nil {
		l.missing(id, err)
		return id
	}
	return s
}

// Num writes an integer the language's way: 1.234 (id), 1,234 (en).
func (l *lang) Num(v any) string {
	return l.num.Sprint(number.Decimal(v))
}

// Dec writes a number with at most one decimal: 2,5 (id), 2.5 (en).
func (l *lang) Dec(v float64) string {
	return l.num.Sprint(number.Decimal(math.Round(v*10)/10, number.MaxFractionDigits(1)))
}

// Date writes a day the language's way: "Senin, 30 November 2026",
// "Monday, 30 November 2026".
func (l *lang) Date(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.Local()
	return l.T("date_long", "Weekday", l.T(weekdayID(t.Weekday())), "Day", t.Day(), "Month", l.T(monthID(t.Month())), "Year", t.Year())
}

// Clock writes a time of day: 18.22 (id, as Indonesian writes it), 18:22 (en).
func (l *lang) Clock(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.Local()
	return l.T("clock", "H", fmt.Sprintf("%02d", t.Hour()), "M", fmt.Sprintf("%02d", t.Minute()), "S", fmt.Sprintf("%02d", t.Second()))
}

// DateTime writes a day and time, short: "30 Nov 2026 18.22".
func (l *lang) DateTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.Local()
	return l.T("datetime_short", "Day", t.Day(), "Mon", l.T(monthShortID(t.Month())), "Year", t.Year(), "Clock", l.Clock(t))
}

func monthID(m time.Month) string      { return fmt.Sprintf("month_%d", int(m)) }
func monthShortID(m time.Month) string { return fmt.Sprintf("month_short_%d", int(m)) }
func weekdayID(d time.Weekday) string  { return fmt.Sprintf("weekday_%d", int(d)) }

// Ids of things the engine names by code.
func printerStateID(s string) string { return "printer_state_" + s }
func printerCodeID(c string) string  { return "printer_code_" + c }
func waitCodeID(c string) string     { return "wait_code_" + c }
func batchStateID(s string) string   { return "batch_state_" + s }
func jobStateID(s string) string     { return "job_state_" + s }
func spoilReasonID(r string) string  { return "spoil_reason_" + r }
func centralStateID(s string) string { return "central_state_" + s }
func storyKindID(k string) string    { return "story_" + k }
func printerStates() []string {
	return []string{"idle", "printing", "paused", "attention", "offline", "stopped"}
}
func batchStates() []string   { return []string{"new", "started", "paused", "cancelled", "done"} }
func centralStates() []string { return []string{"ok", "connecting", "down", "off", "unknown"} }
func storyKinds() []string {
	return []string{"received", "printed", "spoiled", "reported", "reprint", "reprint_of", "state"}
}
func spoilReasons() []string {
	return append(append([]string(nil), inventory.SpoilReasons...), "other")
}

// msg marks a message id kept in a variable, for the catalog test to find.
func msg(id string) string { return id }

// dynamicIDs lists every message id the code builds at run time.
func dynamicIDs() []string {
	var ids []string
	for _, l := range Languages {
		ids = append(ids, "lang_name_"+l)
	}
	for _, r := range accounts.AllRoles {
		ids = append(ids, "role_"+string(r))
	}
	for _, by := range []string{station.ByNIK, station.ByJob, station.ByName} {
		ids = append(ids, "search_found_by_"+by)
	}
	for m := time.January; m <= time.December; m++ {
		ids = append(ids, monthID(m), monthShortID(m))
	}
	for d := time.Sunday; d <= time.Saturday; d++ {
		ids = append(ids, weekdayID(d))
	}
	for _, s := range printerStates() {
		ids = append(ids, printerStateID(s))
	}
	for _, c := range station.PrinterCodes {
		ids = append(ids, printerCodeID(c))
	}
	for _, c := range []string{inventory.WarnNoDayTotals, inventory.WarnNoCheckpoint, inventory.WarnTail, inventory.WarnKeyFromRecord} {
		ids = append(ids, verifyWarningID(c))
	}
	for _, st := range []string{"checking", "waiting", "held", "offline"} {
		ids = append(ids, ledgerCheckID(st))
	}
	for _, c := range sensorCodes {
		ids = append(ids, sensorNameID(c))
	}
	for _, r := range sensorReadings {
		ids = append(ids, sensorReadingID(r))
	}
	for _, c := range station.AttentionCodes {
		ids = append(ids, waitCodeID(c))
	}
	for _, s := range batchStates() {
		ids = append(ids, batchStateID(s))
	}
	for _, s := range jobqueue.AllStates {
		ids = append(ids, jobStateID(string(s)))
	}
	for _, r := range spoilReasons() {
		ids = append(ids, spoilReasonID(r))
	}
	for _, s := range centralStates() {
		ids = append(ids, centralStateID(s))
	}
	for _, s := range deskSteps() {
		ids = append(ids, "desk_step_"+s)
	}
	for _, n := range deskNotes() {
		ids = append(ids, "desk_note_"+n)
	}
	for _, k := range storyKinds() {
		ids = append(ids, storyKindID(k))
	}
	ids = append(ids, techDynamicIDs()...) // tech.go
	sort.Strings(ids)
	return ids
}

// Known reports whether id has a message (used for codes from the engine
// that may be newer than the catalogs: the page then says so plainly).
// orEnglish is id's text when the catalog has it, else the outside
// words (a driver's) as they came, marked as English for screen readers.
func (l *lang) orEnglish(id, outside string, kv ...any) template.HTML {
	if outside == "" {
		return ""
	}
	if l.Known(id) {
		return template.HTML(template.HTMLEscapeString(l.T(id, kv...)))
	}
	return template.HTML(`<span lang="en">` + template.HTMLEscapeString(outside) + `</span>`)
}

func (l *lang) Known(id string) bool {
	_, err := l.loc.Localize(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}

const langCookie = "ps_lang"

// pickLang chooses the page's language: the signed-in person's choice
// (the switch on the page, kept in a cookie), else the browser's
// Accept-Language, else the station's [web] language.
func pickLang(r *http.Request, userPref, stationDefault string) string {
	if ok(userPref) {
		return userPref
	}
	if c, err := r.Cookie(langCookie); err == nil && ok(c.Value) {
		return c.Value
	}
	if h := r.Header.Get("Accept-Language"); h != "" {
		tags, _, err := language.ParseAcceptLanguage(h)
		if err == nil {
			for _, t := range tags {
				base, _ := t.Base()
				if ok(base.String()) {
					return base.String()
				}
			}
		}
	}
	if ok(stationDefault) {
		return stationDefault
	}
	return Languages[0]
}

func ok(code string) bool {
	for _, l := range Languages {
		if strings.EqualFold(code, l) {
			return true
		}
	}
	return false
}
