package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"printstation/accounts"
	"printstation/inventory"
	printerdiag "printstation/printer/diagcmd"
	"printstation/station"
	"printstation/station/guide"
)

// The technician's screens (issue 15, part 1): each printer's health —
// identity, ribbon, counters, cleaning against the station's policy,
// sensors, the encoder's last chip write — with what the guidance table
// (guide.Guidance) says a person sees and may do, and the technician's
// buttons. Reading needs view; every button needs printer.diag and goes
// through the same engine operation as printstationctl diag printer
// (station.Engine.PrinterDiag), which refuses what the guidance table does
// not allow in the printer's state (nothing while a card is printing).

// techStation is what these screens need of the engine (*station.Engine
// has it); a Station without it shows the screens as unavailable.
type techStation interface {
	PrinterHealth(ctx context.Context, name string) (*station.PrinterHealth, error)
	PrinterDiag(ctx context.Context, name, op, actor string) (any, error)
}

func (h *handler) techRoutes() {
	h.mux.HandleFunc("GET /tech", h.gatedPage(accounts.View, h.showTech))
	h.mux.HandleFunc("GET /tech/{printer}", h.gatedPage(accounts.View, h.showTech))
	h.mux.HandleFunc("POST /tech", h.techAction)
}

// techView is the technician's page.
type techView struct {
	*view
	Tech *techPage
}

type techPage struct {
	One      bool // one printer's page (/tech/{printer})
	Printers []techPrinter
	NoEngine bool
	CanDiag  bool
}

type techPrinter struct {
	*station.PrinterHealth
	Err     bool // the printer could not be read at all
	Buttons []techButton
}

// techButton is one action's button: offered only when the guidance row
// allows it and the person holds printer.diag.
type techButton struct {
	Op, Label string
	On        bool
}

// techButtonID is an action's button label id.
func techButtonID(a guide.Action) string {
	return "tech_button_" + strings.ReplaceAll(string(a), "-", "_")
}

// techDynamicIDs are the message ids these screens build at run time:
// the buttons, how a cleaning was recorded, and every guidance row's
// message (guide.Guidance), which the page shows for a printer's state.
func techDynamicIDs() []string {
	var ids []string
	for _, a := range guide.TechActions {
		ids = append(ids, techButtonID(a))
	}
	for _, how := range []string{station.CleanCycle, station.CleanByHand, station.CleanCounter} {
		ids = append(ids, "tech_clean_how_"+how)
	}
	for _, g := range guide.Guidance {
		ids = append(ids, g.Message)
	}
	return ids
}

func (h *handler) showTech(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, refused *note) {
	v := h.frame(r, l, s, "tech")
	if refused != nil {
		v.Note = refused
	}
	tp := &techPage{CanDiag: s.can(accounts.PrinterDiag)}
	ts, ok := h.st.(techStation)
	names := []string{}
	for _, p := range h.st.Printers() {
		names = append(names, p.Name)
	}
	if one := r.PathValue("printer"); one != "" {
		if !slices.Contains(names, one) {
			h.render(w, l, http.StatusNotFound, "refused.html", refusal{Lang: l.Code, Title: l.T("refused_title"), Text: l.T("err_no_such_printer", "Name", one)})
			return
		}
		names, tp.One = []string{one}, true
	}
	if !ok {
		tp.NoEngine = true
	} else {
		for _, n := range names {
			ph, err := ts.PrinterHealth(r.Context(), n)
			if err != nil {
				h.log.Warn().Err(err).Str("printer", n).Msg("printer health could not be read for the page")
				tp.Printers = append(tp.Printers, techPrinter{PrinterHealth: &station.PrinterHealth{Name: n}, Err: true})
				continue
			}
			row := techPrinter{PrinterHealth: ph}
			for _, a := range guide.TechActions {
				row.Buttons = append(row.Buttons, techButton{Op: string(a), Label: l.T(techButtonID(a), "Name", n), On: tp.CanDiag && ph.Guide.Allows(a)})
			}
			tp.Printers = append(tp.Printers, row)
		}
	}
	h.render(w, l, code, "tech.html", techView{view: v, Tech: tp})
}

// techDone are the outcome messages by action.
var techDone = map[guide.Action]string{
	guide.ActTestCard:     msg("tech_done_test_card"),
	guide.ActClean:        msg("tech_done_clean"),
	guide.ActCleaningDone: msg("tech_done_record_cleaning"),
	guide.ActSelfAdjust:   msg("tech_done_self_adjust"),
	guide.ActReaderTest:   msg("tech_done_reader_test"),
	guide.ActProbe:        msg("tech_done_probe"),
}

// techAction runs a technician's button through the engine.
func (h *handler) techAction(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, true)
	if s == nil {
		return
	}
	name, op := r.PostFormValue("printer"), guide.Action(r.PostFormValue("op"))
	done, known := techDone[op]
	switch {
	case !known:
		h.done(w, r, s, note{Err: true, Text: l.T("tech_err_action")})
		return
	case !validID(name):
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_printer_chosen")})
		return
	}
	if !h.allowed(w, r, s, l, accounts.PrinterDiag) {
		return
	}
	ts, ok := h.st.(techStation)
	known = false
	for _, p := range h.st.Printers() {
		known = known || p.Name == name
	}
	if !known || !ok {
		h.done(w, r, s, note{Err: true, Text: l.T("err_no_such_printer", "Name", name)})
		return
	}
	if !h.once.claim(r.PostFormValue("once"), h.opts.Now()) {
		// The same button's form again (a double click): done once already.
		h.done(w, r, s, note{Text: l.T("form_sent_before")})
		return
	}
	res, err := ts.PrinterDiag(r.Context(), name, string(op), s.Name)
	if err != nil {
		h.log.Warn().Err(err).Str("printer", name).Str("op", string(op)).Msg("technician's action refused")
		n := note{Err: true}
		var dr *station.DiagRefused
		switch {
		case errors.As(err, &dr) && dr.State.State == "printing":
			n.Text = l.T("tech_err_printing", "Name", name)
		case errors.As(err, &dr):
			n.Text = l.T("tech_err_not_allowed", "Name", name, "What", l.T(dr.Guide.Message))
		default:
			n.Text, n.Detail = l.T("err_not_done", "What", l.T("target_printer", "Name", name)), err.Error()
		}
		h.done(w, r, s, n)
		return
	}
	// The people log keeps who did what to which printer; a test card's
	// blank is in the ledger already (spoiled, reason test).
	h.logAction(r.Context(), s, inventory.Event{Action: "printer_diag_" + string(op), Printer: name})
	h.log.Info().Str("printer", name).Str("op", string(op)).Str("role", s.Role).Msg("technician's action from the web page")
	n := note{}
	switch v := res.(type) {
	case *station.TestCardResult:
		n.Text = l.N("tech_done_test_card", v.Blanks, "Name", name, "N", l.Num(v.Blanks))
		if v.Error != "" {
			n.Err, n.Detail = true, v.Error
		}
	case *station.ReaderTest:
		if !v.OK {
			n = note{Err: true, Text: l.T("tech_err_reader_test", "Name", name), Detail: v.Error}
		} else {
			var apdus int
			var ms float64
			if v.Use != nil {
				apdus, ms = v.Use.APDUs, v.Use.Millis
			}
			n.Text = l.T("tech_done_reader_test", "Name", name, "N", l.Num(apdus), "What", l.Dec(ms))
		}
	case printerdiag.ProbeReport:
		// The probe's raw replies, for the technician to read or send back.
		var b strings.Builder
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		v.Text(tw)
		tw.Flush()
		n.Text, n.Detail = l.T(done, "Name", name), b.String()
	default:
		n.Text = l.T(done, "Name", name)
	}
	h.done(w, r, s, n)
}

// The sensors the drivers name (the Evolis guide's Rse letters, page 37,
// and f, the input feeder) and what their readings say, in the page's
// words; a sensor or reading a driver adds later shows in the driver's
// English, marked as English, until it has a translation.
var (
	sensorCodes    = []string{"c", "f", "m", "o", "p", "r"}
	sensorReadings = []string{"open", "closed", "empty", "cards present", "no card", "card"}
)

func sensorNameID(code string) string { return "tech_sensor_" + code }

func sensorReadingID(r string) string {
	return "tech_reading_" + strings.ReplaceAll(r, " ", "_")
}
