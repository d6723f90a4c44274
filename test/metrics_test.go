package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"printstation/internal/golden"
	"printstation/station/localapi"
)

// TestMetricsScrape scrapes the real daemon's /metrics after a small batch
// (jobs without chips) on a simulated printer and a real centre process: the series names are
// the golden list (what dashboards and deploy/prometheus/alerts.yml rely
// on), the counts agree with the station's own status, and no label
// carries a job id.
func TestMetricsScrape(t *testing.T) {
	// Jobs without chips: the scrape needs no PC/SC test bed (the chip
	// histogram's values are checked in station/metrics_test.go).
	s := newE2E(t, e2eOpts{jobs: 4, batch: 4, printers: 1, noChip: true})
	addr := freeAddr(t)
	f, err := os.OpenFile(s.cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "[metrics]\nlisten = %q\n", addr)
	f.Close()
	s.startDaemon()
	s.stock(20)
	s.startBatches(4)
	waitFor(t, 5*time.Minute, s.settled, "the batch to finish")

	var fams map[string]*dto.MetricFamily
	// Outcomes reach the centre shortly after the cards are printed.
	waitFor(t, 60*time.Second, func() bool {
		fams = scrapeMetrics(t, "http://"+addr+"/metrics")
		return fams["printstation_central_last_outcome_ack_timestamp_seconds"] != nil
	}, "the centre to acknowledge an outcome")

	var names []string
	for n := range fams {
		if strings.HasPrefix(n, "printstation_") || strings.HasPrefix(n, "process_") {
			names = append(names, n+" "+strings.ToLower(fams[n].GetType().String()))
		}
	}
	slices.Sort(names)
	golden.Check(t, filepath.Join("testdata", "metrics.golden"), []byte(strings.Join(names, "\n")+"\n"))

	var st localapi.StatusReport
	if err := json.Unmarshal([]byte(s.ctl("--json", "status")), &st); err != nil {
		t.Fatal(err)
	}
	printed := 0.0
	for _, m := range fams["printstation_cards_printed_total"].Metric {
		printed += m.Counter.GetValue()
	}
	if printed != float64(st.Queue["printed"]) || printed != 4 {
		attention, _ := ctl(t, s.sock, "attention", "list")
		t.Logf("status:\n%s\nattention:\n%s\ndaemon log:\n%s", s.ctl("status"), attention, s.daemon.stderr.String())
		t.Errorf("printstation_cards_printed_total sums to %v; the daemon's status says %d printed", printed, st.Queue["printed"])
	}
	var storage float64 = -1
	for _, m := range fams["printstation_blanks"].Metric {
		for _, l := range m.Label {
			if l.GetName() == "location" && l.GetValue() == "storage" {
				storage = m.Gauge.GetValue()
			}
		}
	}
	if st.Stock == nil || storage != float64(st.Stock.Storage) {
		t.Errorf("printstation_blanks{location=\"storage\"} = %v; status says %+v", storage, st.Stock)
	}
	for _, b := range st.Batches {
		for n, f := range fams {
			for _, m := range f.Metric {
				for _, l := range m.Label {
					if strings.Contains(l.GetValue(), b.ID) {
						t.Errorf("%s label %s carries batch id %s: labels must stay low-cardinality", n, l.GetName(), b.ID)
					}
				}
			}
		}
	}
}

func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scraping %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != 200 {
		t.Fatalf("%s answered %s:\n%s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%s is not the Prometheus text format: %v", url, err)
	}
	return fams
}
