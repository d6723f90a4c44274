package station

// The supervisor's reports to the centre about stock (issue 15, part 3):
// the daily stock announcement and the request for more blanks. Both go
// through the outbox, like outcomes and checkpoints: written to the
// database before anything is sent, sent by the syncer over the station's
// mTLS link with the item's key as Idempotency-Key, retried until the
// centre acknowledges them (the link is often down), and never sent as a
// second report: the key is the report's identity at both ends.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station/localapi"
)

// Forecast, BlankRequest and CentreReport are the local API's documents.
type (
	Forecast     = localapi.Forecast
	BlankRequest = localapi.BlankRequest
	CentreReport = localapi.CentreReport
)

// ForecastWindow is how many days of use the forecast of a request for
// blanks averages.
const ForecastWindow = 7

// MaxBlankRequest is the most blanks one request asks for.
const MaxBlankRequest = 1_000_000

// Errors of the stock reports, for the page and the CLI to word.
var (
	ErrRequestID       = errors.New("request id: expected 8 to 64 letters, digits, '-' or '_'")
	ErrRequestQuantity = fmt.Errorf("quantity: expected 1 to %d blanks", MaxBlankRequest)
	ErrRequestNote     = errors.New("note: expected one line of at most 200 characters")
)

// StockDay is the stock of the calendar day containing day, from the
// ledger: each place's opening, received, loaded, used, spoiled,
// destroyed and on hand. It is what the announcement shows and sends.
func (e *Engine) StockDay(ctx context.Context, day time.Time) (*inventory.StockReport, error) {
	b, err := e.ledger.StockReport(ctx, day)
	if err != nil {
		return nil, err
	}
	var r inventory.StockReport
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("stock of the day: %w", err)
	}
	return &r, nil
}

// announcement is what the centre receives: the day's stock report (the
// same document as the daily report) with who announced it and when.
type announcement struct {
	inventory.StockReport
	Announcement bool      `json:"announcement"`
	By           string    `json:"announced_by"`
	At           time.Time `json:"announced_at"`
}

// Announce queues today's stock, as the ledger has it now, for the centre.
// Its key names the day and its figures, so announcing again without a
// change in between is the same announcement (fresh is false), and a later
// one with other figures is a new one.
func (e *Engine) Announce(ctx context.Context, actor string) (rep CentreReport, fresh bool, err error) {
	now := time.Now()
	day, err := e.StockDay(ctx, now)
	if err != nil {
		return CentreReport{}, false, err
	}
	// The key is the figures' own: people signing in or out (the people
	// log is in the ledger too) change no figure and make no new
	// announcement.
	figures := *day.Period
	figures.Events, figures.Closing.Events = 0, 0
	fb, err := json.Marshal(figures)
	if err != nil {
		return CentreReport{}, false, err
	}
	sum := sha256.Sum256(fb)
	key := fmt.Sprintf("announce/%s/%s/%s", e.cfg.StationID, day.Day, hex.EncodeToString(sum[:8]))
	defer e.nudgeSync()
	if r, ok, err := e.outbox.Report(ctx, key); err != nil {
		return CentreReport{}, false, err
	} else if ok {
		return centreReport(r), false, nil
	}
	body, err := json.Marshal(announcement{StockReport: *day, Announcement: true, By: actor, At: now.UTC()})
	if err != nil {
		return CentreReport{}, false, err
	}
	if err := e.outbox.Enqueue(ctx, e.db, jobqueue.KindStock, key, body); err != nil {
		return CentreReport{}, false, err
	}
	r, _, err := e.outbox.Report(ctx, key)
	if err != nil {
		return CentreReport{}, false, err
	}
	e.log.Info().Str("key", key).Msg("stock announcement queued for the centre")
	e.publish(Event{Type: "stock_announced"})
	return centreReport(r), true, nil
}

// Announcements lists the latest announcements, newest first.
func (e *Engine) Announcements(ctx context.Context, limit int) ([]CentreReport, error) {
	rs, err := e.outbox.Reports(ctx, jobqueue.KindStock, limit*4)
	if err != nil {
		return nil, err
	}
	out := []CentreReport{}
	for _, r := range rs {
		if strings.HasPrefix(r.Key, "announce/") && len(out) < limit {
			out = append(out, centreReport(r))
		}
	}
	return out, nil
}

// BlankForecast is the forecast a request for blanks carries: the blanks
// ready to use at the average use of the last ForecastWindow days.
func (e *Engine) BlankForecast(ctx context.Context) (Forecast, error) {
	f, err := e.ledger.Forecast(ctx, ForecastWindow)
	if err != nil {
		return Forecast{}, err
	}
	return Forecast{Available: f.Available, WindowDays: f.Days, Used: f.Used, PerDay: f.PerDay, DaysLeft: f.DaysLeft}, nil
}

// ValidRequestID: the id a form or the CLI makes for a request.
func ValidRequestID(id string) bool {
	if len(id) < 8 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// RequestBlanks queues a request for more blanks with today's forecast.
// req.ID is the request's identity: a second call with the same ID (a
// double click, a form sent again, the CLI run twice with --id) returns
// the first request and queues nothing.
func (e *Engine) RequestBlanks(ctx context.Context, req BlankRequest) (rep CentreReport, fresh bool, err error) {
	req.Note = strings.TrimSpace(req.Note)
	switch {
	case !ValidRequestID(req.ID):
		return CentreReport{}, false, ErrRequestID
	case req.Quantity < 1 || req.Quantity > MaxBlankRequest:
		return CentreReport{}, false, ErrRequestQuantity
	case utf8.RuneCountInString(req.Note) > 200 || !utf8.ValidString(req.Note) || strings.ContainsAny(req.Note, "\x00\r\n"):
		return CentreReport{}, false, ErrRequestNote
	case strings.TrimSpace(req.Actor) == "":
		return CentreReport{}, false, errors.New("request for blanks: no actor")
	}
	key := "blanks/" + e.cfg.StationID + "/" + req.ID
	// Asking (again) sends now: a person waits for the answer.
	defer e.nudgeSync()
	if r, ok, err := e.outbox.Report(ctx, key); err != nil {
		return CentreReport{}, false, err
	} else if ok {
		return centreReport(r), false, nil
	}
	f, err := e.BlankForecast(ctx)
	if err != nil {
		return CentreReport{}, false, fmt.Errorf("request for blanks: forecast: %w", err)
	}
	req.Station, req.At, req.Forecast = e.cfg.StationID, time.Now().UTC(), f
	body, err := json.Marshal(req)
	if err != nil {
		return CentreReport{}, false, err
	}
	if err := e.outbox.Enqueue(ctx, e.db, jobqueue.KindBlankRequest, key, body); err != nil {
		return CentreReport{}, false, err
	}
	r, _, err := e.outbox.Report(ctx, key)
	if err != nil {
		return CentreReport{}, false, err
	}
	e.log.Info().Str("key", key).Int64("quantity", req.Quantity).Msg("request for blanks queued for the centre")
	e.publish(Event{Type: "blanks_requested"})
	return centreReport(r), true, nil
}

// BlankRequests lists the latest requests for blanks, newest first.
func (e *Engine) BlankRequests(ctx context.Context, limit int) ([]CentreReport, error) {
	rs, err := e.outbox.Reports(ctx, jobqueue.KindBlankRequest, limit)
	if err != nil {
		return nil, err
	}
	out := []CentreReport{}
	for _, r := range rs {
		out = append(out, centreReport(r))
	}
	return out, nil
}

// nudgeSync makes the syncer try the reports now, past its back-off.
func (e *Engine) nudgeSync() {
	if e.syncer != nil {
		e.syncer.Nudge()
	}
}

func centreReport(r jobqueue.Report) CentreReport {
	c := CentreReport{Kind: r.Kind, Key: r.Key, CreatedAt: r.CreatedAt, Attempts: r.Attempts, LastError: r.LastError, Ref: r.Ref, Refused: r.Refused, State: "waiting"}
	if !r.AckedAt.IsZero() {
		at := r.AckedAt
		c.AckedAt, c.State = &at, "acknowledged"
		if r.Refused != "" {
			c.State = "refused"
		}
	}
	switch r.Kind {
	case jobqueue.KindBlankRequest:
		var b BlankRequest
		if json.Unmarshal(r.Body, &b) == nil {
			c.Request = &b
		}
	case jobqueue.KindStock:
		var a announcement
		if json.Unmarshal(r.Body, &a) == nil {
			c.Day, c.By = a.Day, a.By
		}
	}
	return c
}

// stockReportRoutes are the local API's stock announcement and requests
// for blanks (printstationctl stock announce|request|requests).
func (e *Engine) stockReportRoutes(mux *http.ServeMux, acc *accounts.Store) {
	mux.HandleFunc("GET /v1/stock/requests", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.View); !ok {
			return
		}
		rs, err := e.BlankRequests(r.Context(), 50)
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		f, err := e.BlankForecast(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, map[string]any{"forecast": f, "requests": rs})
	})
	mux.HandleFunc("POST /v1/stock/requests", func(w http.ResponseWriter, r *http.Request) {
		c, ok := allowed(w, r, accounts.StockRequest)
		if !ok {
			return
		}
		var req BlankRequest
		if err := readJSON(r, &req); err != nil {
			writeErr(w, 400, err)
			return
		}
		if err := sameActor(c, req.Actor); err != nil {
			writeErr(w, 403, err)
			return
		}
		req.Actor = c.Name
		rep, fresh, err := e.RequestBlanks(r.Context(), req)
		if err != nil {
			code := 500
			if errors.Is(err, ErrRequestID) || errors.Is(err, ErrRequestQuantity) || errors.Is(err, ErrRequestNote) {
				code = 400
			}
			writeErr(w, code, err)
			return
		}
		if fresh {
			if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
				Action: "stock_request", Subject: req.ID}); err != nil {
				writeErr(w, 500, err)
				return
			}
		}
		writeJSON(w, 200, rep)
	})
	mux.HandleFunc("GET /v1/stock/announcements", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.View); !ok {
			return
		}
		rs, err := e.Announcements(r.Context(), 50)
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, rs)
	})
	mux.HandleFunc("POST /v1/stock/announce", func(w http.ResponseWriter, r *http.Request) {
		c, ok := allowed(w, r, accounts.StockRequest)
		if !ok {
			return
		}
		rep, fresh, err := e.Announce(r.Context(), c.Name)
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		if fresh {
			if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
				Action: "stock_announce", Subject: rep.Day}); err != nil {
				writeErr(w, 500, err)
				return
			}
		}
		writeJSON(w, 200, map[string]any{"report": rep, "fresh": fresh})
	})
}
