package web

import (
	"context"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"printstation/printer"
	"printstation/station"
)

// view is what every page template gets.
type view struct {
	Lang    string
	Station string
	S       *session
	Note    *note
	Nav     string          // which page: home, search, today, report, stock, users
	Can     map[string]bool // permission → the session holds it (accounts' role table)
	Here    string          // this page's path, for forms to come back to
	Once    string          // this drawing's one-use form token (once.go)
	BeatMS  int64
	Live    *liveView
	Search  *searchView
	Story   *storyView
	Today   *todayView
	Report  *reportView
	Control *controlView
	Users   *usersView
	Audit   *auditView
	// StockOps is the daily stock announcement's or the request for
	// blanks' part (stockops.go).
	StockOps *stockOpsView
}

func (h *handler) frame(r *http.Request, l *lang, s *session, nav string) *view {
	v := &view{Lang: l.Code, Station: h.opts.Station, S: s, Nav: nav, Here: r.URL.RequestURI(), BeatMS: h.opts.Beat.Milliseconds(), Can: s.canMap(), Once: newOnceToken()}
	if n, ok := h.notes.take(s.id); ok {
		v.Note = &n
	}
	return v
}

type liveView struct {
	Role     string
	Can      map[string]bool // permission → the session holds it
	CSRF     string
	Printers []printerRow
	Batches  []station.BatchState
	Waiting  []station.Attention
	Stock    *station.StockState
	StockErr bool
	LoadErr  []string
	Central  station.CentralLink
	Updated  time.Time
	Summary  string
}

type printerRow struct {
	station.PrinterState
	CanResume bool
	Tone      string   // ok, warn, stop: the tile's colour
	Desk      *deskRow // a desk-encoder printer's step (desk.go)
}

func (h *handler) loadLive(ctx context.Context, l *lang, s *session) *liveView {
	lv := &liveView{Role: s.Role, Can: s.canMap(), CSRF: s.CSRF, Central: h.st.CentralLink(), Updated: h.opts.Now()}
	stock, err := h.st.Stock(ctx)
	if err != nil {
		h.log.Warn().Err(err).Msg("stock could not be read for the page")
		lv.StockErr = true
	} else {
		lv.Stock = stock
	}
	busy, stopped := 0, 0
	for _, p := range h.st.Printers() {
		row := printerRow{PrinterState: p, Tone: "ok", Desk: h.deskRow(p.Name)}
		if stock != nil {
			row.Loaded = stock.Printers[p.Name]
		}
		// The states the engine's worker waits in until someone resumes
		// it (offline also retries by itself).
		switch p.State {
		case "paused", "offline":
			row.CanResume, row.Tone = true, "warn"
			stopped++
		case "attention":
			row.CanResume, row.Tone = true, "stop"
			stopped++
		case "stopped":
			row.Tone = "stop"
			stopped++
		case "printing":
			busy++
		}
		lv.Printers = append(lv.Printers, row)
	}
	if lv.Batches, err = h.st.Batches(ctx); err != nil {
		h.log.Warn().Err(err).Msg("batches could not be read for the page")
		lv.LoadErr = append(lv.LoadErr, l.T("err_load_batches"))
	}
	sort.SliceStable(lv.Batches, func(i, j int) bool { return lv.Batches[i].ID < lv.Batches[j].ID })
	if lv.Waiting, err = h.st.AttentionList(ctx); err != nil {
		h.log.Warn().Err(err).Msg("waiting jobs could not be read for the page")
		lv.LoadErr = append(lv.LoadErr, l.T("err_load_waiting"))
	}
	// One line for the screen reader's live region: it changes only when
	// something a person acts on changes.
	lv.Summary = l.N("summary_printers", len(lv.Printers), "N", len(lv.Printers), "Busy", busy, "Stopped", stopped) + " " +
		l.N("summary_waiting", len(lv.Waiting), "N", len(lv.Waiting))
	return lv
}

// funcsFor binds the templates' functions to a language.
func funcsFor(l *lang) template.FuncMap {
	m := template.FuncMap{
		"t":  l.T,
		"tn": l.N,
		"num": func(v any) string {
			return l.Num(v)
		},
		"dec":      l.Dec,
		"date":     l.Date,
		"clock":    l.Clock,
		"datetime": l.DateTime,
		"pct": func(n, total int) int {
			if total <= 0 {
				return 0
			}
			return n * 100 / total
		},
		"days": func(f float64) int { return int(math.Round(f)) },
		"printerState": func(s string) string {
			if id := printerStateID(s); l.Known(id) {
				return l.T(id)
			}
			return l.T("state_unknown", "State", s)
		},
		"sensorName": func(s printer.Sensor) template.HTML {
			return l.orEnglish(sensorNameID(s.Code), s.Name)
		},
		"sensorReading": func(r string) template.HTML {
			return l.orEnglish(sensorReadingID(r), r)
		},
		"printerCode": func(c string) string {
			if c == "" {
				return ""
			}
			if id := printerCodeID(c); l.Known(id) {
				return l.T(id)
			}
			return l.T("printer_code_unknown")
		},
		"waitCode": func(a station.Attention) string {
			if id := waitCodeID(a.Code); a.Code != "" && l.Known(id) {
				return l.T(id, "Printer", a.Printer, "Job", a.Job)
			}
			if a.State == "uncertain" {
				return l.T("wait_uncertain_generic", "Printer", a.Printer, "Job", a.Job)
			}
			return l.T("wait_attention_generic")
		},
		"batchState": func(s string) string {
			if id := batchStateID(s); l.Known(id) {
				return l.T(id)
			}
			return l.T("state_unknown", "State", s)
		},
		"jobState": func(s any) string {
			str := toString(s)
			if id := jobStateID(str); l.Known(id) {
				return l.T(id)
			}
			return l.T("state_unknown", "State", str)
		},
		"spoilReason": func(s string) string {
			if id := spoilReasonID(s); l.Known(id) {
				return l.T(id)
			}
			return l.T("spoil_reason_other")
		},
		"central": func(c station.CentralLink) string {
			switch c.State {
			case "ok":
				return l.T("central_state_ok", "Clock", l.Clock(c.LastPull))
			case "down":
				return l.N("central_state_down", c.Failures, "N", c.Failures)
			case "connecting", "off":
				return l.T(centralStateID(c.State))
			}
			return l.T("central_state_unknown")
		},
		"ledgerCheck": func(state string) string {
			if id := ledgerCheckID(state); l.Known(id) {
				return l.T(id)
			}
			return l.T("central_state_unknown")
		},
		"story": func(s station.StoryStep) string {
			id := storyKindID(s.Kind)
			switch s.Kind {
			case "printed", "spoiled":
				return l.T(id, "Printer", s.Printer)
			case "reprint", "reprint_of":
				return l.T(id, "Job", s.Other)
			case "state":
				st := s.State
				if jid := jobStateID(st); l.Known(jid) {
					st = l.T(jid)
				}
				return l.T(id, "State", st)
			}
			return l.T(id)
		},
		// domid makes an id usable in an HTML id attribute.
		"domid": func(parts ...string) string {
			var b strings.Builder
			for i, p := range parts {
				if i > 0 {
					b.WriteByte('-')
				}
				for _, r := range p {
					if r < 128 && (r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
						b.WriteRune(r)
					} else {
						b.WriteByte('_')
					}
				}
			}
			return b.String()
		},
		"langs":    func() []string { return Languages },
		"deskStep": func(step string) string { return l.T(deskStepID(step)) },
		"deskNote": func(note string) string {
			if id := deskNoteID(note); id != "" {
				return l.T(id)
			}
			return ""
		},
		"sum": func(m map[string]int64) int64 {
			var n int64
			for _, v := range m {
				n += v
			}
			return n
		},
		"now": time.Now,
	}
	for k, f := range auditFuncs(l) {
		m[k] = f
	}
	return m
}

func toString(v any) string { return fmt.Sprint(v) }

// ledgerCheckID words the start-up witness check (CentralLink.Ledger).
func ledgerCheckID(state string) string { return "ledger_check_" + state }
