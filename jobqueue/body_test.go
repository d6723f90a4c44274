package jobqueue_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"printstation/jobqueue"
)

// TestRequestBodies: a report of one card goes as plain JSON, a large one
// gzip'd (the contract allows both), and either way the centre reads the
// same items; the compressor kept between requests gives whole, correct
// bodies one after the other.
func TestRequestBodies(t *testing.T) {
	type got struct {
		enc   string
		items []jobqueue.OutcomeItem
	}
	var seen []got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			rd = zr
		}
		var body struct {
			Items []jobqueue.OutcomeItem `json:"items"`
		}
		if err := json.NewDecoder(rd).Decode(&body); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		seen = append(seen, got{r.Header.Get("Content-Encoding"), body.Items})
		json.NewEncoder(w).Encode(jobqueue.OutcomesAnswer{})
	}))
	defer srv.Close()
	c, err := jobqueue.NewClient(jobqueue.ClientConfig{BaseURL: srv.URL, StationID: "ST-T", Transport: http.DefaultTransport})
	if err != nil {
		t.Fatal(err)
	}
	items := func(n int) []jobqueue.OutcomeItem {
		var out []jobqueue.OutcomeItem
		for i := 0; i < n; i++ {
			out = append(out, jobqueue.OutcomeItem{Key: fmt.Sprintf("outcome:J-%d:1", i), JobID: fmt.Sprintf("J-%d", i), Outcome: "printed", Printer: "p1", UID: "04A1B2C3", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
		}
		return out
	}
	sizes := []int{1, 50, 40, 1, 50}
	for i, n := range sizes {
		if _, err := c.PostOutcomes(context.Background(), fmt.Sprint("k", i), items(n)); err != nil {
			t.Fatalf("post %d: %v", i, err)
		}
	}
	if len(seen) != len(sizes) {
		t.Fatalf("%d requests arrived; want %d", len(seen), len(sizes))
	}
	for i, n := range sizes {
		want := map[bool]string{true: "", false: "gzip"}[n == 1]
		if seen[i].enc != want {
			t.Errorf("request %d (%d items): Content-Encoding %q; want %q", i, n, seen[i].enc, want)
		}
		a, _ := json.Marshal(seen[i].items)
		b, _ := json.Marshal(items(n))
		if !bytes.Equal(a, b) {
			t.Errorf("request %d: the centre read other items than were sent", i)
		}
	}
}
