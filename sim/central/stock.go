package central

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The centre's side of a station's stock: the daily stock reports (and
// the supervisor's announcements, the same document) and the requests for
// more blanks. Both come over the station's mTLS link (its client
// certificate names the station, withStationAuth), each with an
// Idempotency-Key: a retry gets the first answer, with the same reference,
// and is never a second report or a second request.

// MaxBlankRequest is the most blanks one request may ask for.
const MaxBlankRequest = 1_000_000

// BlankRequest is a station's request for more blanks as the centre holds
// it.
type BlankRequest struct {
	Station    string          `json:"station"`
	Ref        string          `json:"ref"` // the centre's reference, answered to the station
	ID         string          `json:"id"`  // the station's request id
	Key        string          `json:"key"` // the Idempotency-Key it came with
	Quantity   int64           `json:"quantity"`
	Request    json.RawMessage `json:"request"` // as the station sent it
	ReceivedAt time.Time       `json:"received_at"`
	// Posts is how many times the station sent this request (retries
	// included; kept in memory only).
	Posts int `json:"posts"`
}

// BlankRequests returns the requests for blanks a station made, in the
// order they arrived, with how often each was posted.
func (s *Server) BlankRequests(station string) []BlankRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BlankRequest
	for _, r := range s.blankReqs[station] {
		c := *r
		c.Posts = s.blankPosts[station+"|"+r.Key]
		out = append(out, c)
	}
	return out
}

// countPosts counts every post of a request for blanks by its key, replays
// included (the idempotent answer never reaches the handler).
func (s *Server) countPosts(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			s.mu.Lock()
			if len(s.blankPosts) < 100_000 {
				s.blankPosts[r.PathValue("station")+"|"+k]++
			}
			s.mu.Unlock()
		}
		next(w, r)
	}
}

func (s *Server) handleBlankRequest(station, key string, body []byte) (any, int, error) {
	var req struct {
		ID       string `json:"id"`
		Quantity int64  `json:"quantity"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("request for blanks is not JSON with id and quantity: %v", err)
	}
	if req.ID == "" || len(req.ID) > 200 || strings.ContainsAny(req.ID, "\x00\r\n") {
		return nil, http.StatusBadRequest, errors.New("request for blanks: id must be 1 to 200 characters of text")
	}
	if req.Quantity < 1 || req.Quantity > MaxBlankRequest {
		return nil, http.StatusBadRequest, fmt.Errorf("request for blanks: quantity %d, expected 1 to %d", req.Quantity, MaxBlankRequest)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The idempotent wrapper answers a repeated key; two posts of one key
	// at the same moment both reach here, and the second finds the first.
	for _, r := range s.blankReqs[station] {
		if r.ID == req.ID {
			return map[string]any{"ref": r.Ref, "received_at": r.ReceivedAt}, 0, nil
		}
	}
	br := &BlankRequest{Station: station, ID: req.ID, Key: key, Quantity: req.Quantity, Request: json.RawMessage(body), ReceivedAt: s.opts.Now().UTC(),
		Ref: fmt.Sprintf("PB-%s-%04d", station, len(s.blankReqs[station])+1)}
	s.blankReqs[station] = append(s.blankReqs[station], br)
	s.logLocked(logRec{Station: station, BlankRequest: br})
	s.opts.Logger.Info().Str("station", station).Str("ref", br.Ref).Int64("quantity", br.Quantity).Msg("request for blanks received")
	return map[string]any{"ref": br.Ref, "received_at": br.ReceivedAt}, 0, nil
}

func (s *Server) replayBlankRequestLocked(station string, br *BlankRequest) {
	for _, r := range s.blankReqs[station] {
		if r.ID == br.ID {
			return
		}
	}
	br.Posts = 0
	s.blankReqs[station] = append(s.blankReqs[station], br)
}

func (s *Server) handleStock(station string, body []byte) (any, int, error) {
	if !json.Valid(body) {
		return nil, http.StatusBadRequest, errors.New("stock report is not JSON")
	}
	s.mu.Lock()
	s.stock[station] = append(s.stock[station], body)
	ref := fmt.Sprintf("LS-%s-%04d", station, len(s.stock[station]))
	s.logLocked(logRec{Station: station, StockReport: json.RawMessage(body)})
	s.mu.Unlock()
	return map[string]any{"ok": true, "ref": ref}, 0, nil
}

func (s *Server) handleListBlankRequests(w http.ResponseWriter, r *http.Request) {
	out := s.BlankRequests(r.URL.Query().Get("station"))
	if out == nil {
		out = []BlankRequest{}
	}
	writeJSON(w, out)
}

// StockReportRecord is one stock report as the centre holds it.
type StockReportRecord struct {
	Ref    string          `json:"ref"`
	Report json.RawMessage `json:"report"`
}

func (s *Server) handleListStockReports(w http.ResponseWriter, r *http.Request) {
	station := r.URL.Query().Get("station")
	out := []StockReportRecord{}
	for i, b := range s.StockReports(station) {
		out = append(out, StockReportRecord{Ref: fmt.Sprintf("LS-%s-%04d", station, i+1), Report: json.RawMessage(b)})
	}
	writeJSON(w, out)
}
