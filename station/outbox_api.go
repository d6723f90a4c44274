package station

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"printstation/jobqueue"
	"printstation/station/localapi"
)

// Outbox lists the reports that have not reached the centre yet, oldest
// first, at most limit of them.
func (e *Engine) Outbox(ctx context.Context, limit int) (localapi.OutboxReport, error) {
	items, total, err := e.outbox.Pending(ctx, limit)
	if err != nil {
		return localapi.OutboxReport{}, err
	}
	r := localapi.OutboxReport{Pending: total, Items: []localapi.OutboxItem{}}
	for _, it := range items {
		r.Items = append(r.Items, localapi.OutboxItem{Kind: it.Kind, Key: it.Key, CreatedAt: it.CreatedAt, Attempts: it.Attempts, LastError: it.LastError})
	}
	if r.LastOutcomeAck, err = e.outbox.LastAcked(ctx, jobqueue.KindOutcome); err != nil {
		return localapi.OutboxReport{}, err
	}
	return r, nil
}

func (e *Engine) serveOutbox(w http.ResponseWriter, r *http.Request) {
	limit := 50
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > localapi.OutboxMaxLimit {
			writeErr(w, 400, fmt.Errorf("limit %q: expected 1 to %d", s, localapi.OutboxMaxLimit))
			return
		}
		limit = n
	}
	rep, err := e.Outbox(r.Context(), limit)
	if err != nil {
		writeErr(w, 500, err)
		return
	}
	writeJSON(w, 200, rep)
}
