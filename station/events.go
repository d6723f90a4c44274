package station

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Event is one state change the engine announces on the local API's event
// stream (the CLI's status --watch and the web page follow it). Events carry
// job and printer ids, never personal data.
type Event struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"` // card_printed, card_spoiled, printer_paused, ...
	Printer string    `json:"printer,omitempty"`
	Job     string    `json:"job,omitempty"`
	Batch   string    `json:"batch,omitempty"`
	UID     string    `json:"uid,omitempty"`
	Message string    `json:"message,omitempty"`
}

// hub fans events out to subscribers; a slow subscriber loses events
// rather than stalling the engine.
type hub struct {
	mu   sync.Mutex
	subs map[chan Event]struct{}
}

func (h *hub) publish(ev Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default:
		}
	}
}

func (h *hub) subscribe() (chan Event, func()) {
	c := make(chan Event, 256)
	h.mu.Lock()
	if h.subs == nil {
		h.subs = map[chan Event]struct{}{}
	}
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

// serveEvents streams events as JSON lines until the client goes away.
func (h *hub) serveEvents(w http.ResponseWriter, r *http.Request) {
	c, cancel := h.subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	enc.Encode(Event{Time: time.Now().UTC(), Type: "hello"})
	if fl != nil {
		fl.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-c:
			if enc.Encode(ev) != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}
