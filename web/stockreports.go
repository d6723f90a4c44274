package web

// The daily stock announcement and the request for more blanks: both are
// reports to the centre that the engine queues in its outbox and the syncer
// sends (and retries) over the station's link. The page shows each one's
// state: waiting for the centre, or acknowledged with the centre's
// reference.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station"
)

// StockReports is what the announcement and the request for blanks need
// of the engine (*station.Engine has it). A station without it shows the
// pages with a note that they are not available.
type StockReports interface {
	StockDay(ctx context.Context, day time.Time) (*inventory.StockReport, error)
	Announce(ctx context.Context, actor string) (station.CentreReport, bool, error)
	Announcements(ctx context.Context, limit int) ([]station.CentreReport, error)
	BlankForecast(ctx context.Context) (station.Forecast, error)
	RequestBlanks(ctx context.Context, req station.BlankRequest) (station.CentreReport, bool, error)
	BlankRequests(ctx context.Context, limit int) ([]station.CentreReport, error)
}

// stockOpsView is the announcement's or the request page's part.
type stockOpsView struct {
	Err     string
	Day     *inventory.StockReport
	Rows    []announceRow
	Spoiled int64 // every blank spoiled today
	Used    int64 // every blank printed today: cards and test cards
	Sent    []station.CentreReport
	// The request page.
	Forecast  *station.Forecast
	Window    int
	RequestID string
	Requests  []station.CentreReport
	Link      station.CentralLink
	At        time.Time
}

// announceRow is one place of the announcement: the storage or a printer.
type announceRow struct {
	Place, Printer                                               string
	Opening, Received, Loaded, Unloaded, Used, Spoiled, Adjusted int64
	Closing                                                      int64
}

func (h *handler) stockReports() (StockReports, bool) {
	sr, ok := h.st.(StockReports)
	return sr, ok
}

// showAnnounce draws today's stock announcement: a printable A4 page and
// what was sent to the centre.
func (h *handler) showAnnounce(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, refusal *note) {
	v := h.frame(r, l, s, "stock")
	v.Here = "/stock/announce"
	if refusal != nil {
		v.Note = refusal
	}
	sv := &stockOpsView{At: h.opts.Now()}
	v.StockOps = sv
	sr, ok := h.stockReports()
	if !ok {
		sv.Err = l.T("stockops_not_here")
		h.render(w, l, code, "announce.html", v)
		return
	}
	day, err := sr.StockDay(r.Context(), sv.At)
	if err != nil {
		h.log.Warn().Err(err).Msg("the day's stock could not be read for the announcement")
		sv.Err = l.T("stockops_err_day")
	} else {
		sv.Day = day
		p := day.Period
		sv.Rows = append(sv.Rows, announceRow{Place: inventory.Storage, Opening: p.Storage.Opening, Received: p.Storage.Received, Loaded: p.Storage.Loaded,
			Unloaded: p.Storage.Unloaded, Spoiled: sum(p.Storage.Spoiled), Adjusted: p.Storage.Adjusted, Closing: p.Storage.Closing})
		for _, pp := range p.Printers {
			sv.Rows = append(sv.Rows, announceRow{Place: inventory.InPrinter(pp.Printer), Printer: pp.Printer, Opening: pp.Opening, Loaded: pp.Loaded,
				Unloaded: pp.Unloaded, Used: pp.Consumed + pp.TestCards, Spoiled: sum(pp.Spoiled), Adjusted: pp.Adjusted, Closing: pp.Closing})
		}
		sv.Spoiled = sum(p.Spoiled)
		sv.Used = p.Consumed + p.TestCards
	}
	if sv.Sent, err = sr.Announcements(r.Context(), 5); err != nil {
		h.log.Warn().Err(err).Msg("the announcements sent could not be read")
	}
	h.render(w, l, code, "announce.html", v)
}

// announce queues today's stock for the centre.
func (h *handler) announce(w http.ResponseWriter, r *http.Request) {
	s, l := h.postAllowed(w, r, accounts.StockRequest)
	if s == nil {
		return
	}
	sr, ok := h.stockReports()
	if !ok {
		h.showAnnounce(w, r, s, l, http.StatusNotImplemented, &note{Err: true, Text: l.T("stockops_not_here")})
		return
	}
	rep, fresh, err := sr.Announce(r.Context(), s.Name)
	if err != nil {
		h.log.Warn().Err(err).Msg("the stock announcement could not be queued")
		h.showAnnounce(w, r, s, l, http.StatusInternalServerError, &note{Err: true, Text: l.T("stockops_err_announce"), Detail: err.Error()})
		return
	}
	text := l.T("stockops_announced")
	if !fresh {
		text = l.T("stockops_announced_before")
	} else {
		h.logAction(r.Context(), s, inventory.Event{Action: "stock_announce", Subject: rep.Day})
	}
	h.notes.put(s.id, note{Text: text})
	http.Redirect(w, r, "/stock/announce", http.StatusSeeOther)
}

// newRequestID is a fresh request's id, put in the form: the form sent
// twice (a double click, the browser resending it) is one request.
func newRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return "web-" + hex.EncodeToString(b)
}

// showRequest draws the request for blanks: the forecast and how it is
// worked out, the form, and every request with the centre's answer.
func (h *handler) showRequest(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, refusal *note) {
	v := h.frame(r, l, s, "stock")
	v.Here = "/stock/request"
	if refusal != nil {
		refusal.Detail = scrubCommands(refusal.Detail)
		v.Note = refusal
	}
	sv := &stockOpsView{RequestID: newRequestID(), Link: h.st.CentralLink(), Window: station.ForecastWindow}
	v.StockOps = sv
	sr, ok := h.stockReports()
	if !ok {
		sv.Err = l.T("stockops_not_here")
		h.render(w, l, code, "request.html", v)
		return
	}
	if f, err := sr.BlankForecast(r.Context()); err != nil {
		h.log.Warn().Err(err).Msg("the forecast could not be read for the request page")
		sv.Err = l.T("stockops_err_forecast")
	} else {
		sv.Forecast = &f
		sv.Window = f.WindowDays
	}
	var err error
	if sv.Requests, err = sr.BlankRequests(r.Context(), 20); err != nil {
		h.log.Warn().Err(err).Msg("the requests for blanks could not be read")
		sv.Err = l.T("stockops_err_forecast")
	}
	h.render(w, l, code, "request.html", v)
}

// request queues a request for more blanks for the centre.
func (h *handler) request(w http.ResponseWriter, r *http.Request) {
	s, l := h.postAllowed(w, r, accounts.StockRequest)
	if s == nil {
		return
	}
	refuse := func(code int, text, detail string) {
		h.showRequest(w, r, s, l, code, &note{Err: true, Text: text, Detail: detail})
	}
	sr, ok := h.stockReports()
	if !ok {
		refuse(http.StatusNotImplemented, l.T("stockops_not_here"), "")
		return
	}
	f := &form{r: r, l: l}
	req := station.BlankRequest{Actor: s.Name, ID: r.PostFormValue("request_id")}
	req.Quantity = f.whole("quantity", l.T("stockops_request_quantity"), 1)
	req.Note = f.text("note", l.T("stockops_request_note"), false, 200)
	if f.bad != "" {
		refuse(http.StatusBadRequest, f.bad, "")
		return
	}
	if !station.ValidRequestID(req.ID) {
		refuse(http.StatusBadRequest, l.T("stockops_err_request_form"), "")
		return
	}
	rep, fresh, err := sr.RequestBlanks(r.Context(), req)
	if err != nil {
		h.log.Warn().Err(err).Msg("the request for blanks could not be queued")
		code := http.StatusInternalServerError
		if errors.Is(err, station.ErrRequestQuantity) || errors.Is(err, station.ErrRequestNote) || errors.Is(err, station.ErrRequestID) {
			code = http.StatusBadRequest
		}
		refuse(code, l.T("stockops_err_request"), err.Error())
		return
	}
	if fresh {
		h.logAction(r.Context(), s, inventory.Event{Action: "stock_request", Subject: req.ID})
	}
	h.log.Info().Str("key", rep.Key).Int64("quantity", req.Quantity).Msg("request for blanks from the web page")
	h.notes.put(s.id, note{Text: l.T("stockops_requested", "N", l.Num(req.Quantity))})
	http.Redirect(w, r, "/stock/request", http.StatusSeeOther)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
