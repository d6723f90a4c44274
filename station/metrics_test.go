package station

import (
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"printstation/chip/chiptest"
	"printstation/jobqueue"
)

// scrape fetches the engine's /metrics and parses it as Prometheus does.
func scrape(t *testing.T, e *Engine) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	e.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("/metrics answered %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("/metrics is not the Prometheus text format: %v\n%s", err, rec.Body)
	}
	return fams
}

// value is the sample of family name whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no series %s", name)
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	t.Fatalf("no %s%v", name, want)
	return 0
}

// TestMetricsFollowTheLedger prints a batch with one chip failure and
// checks that the counts, stock, states and timings the metrics show are
// the ledger's and the engine's.
func TestMetricsFollowTheLedger(t *testing.T) {
	r := newRig(t, "p1")
	r.cardCfg = func(p string, n int) chiptest.Config {
		if n == 1 {
			return chiptest.Config{RefuseWrites: 0x6581}
		}
		return chiptest.Config{}
	}
	e, ids := r.batch(3)
	before := scrape(t, e)
	if v := value(t, before, "printstation_cards_printed_total", map[string]string{"printer": "p1"}); v != 0 {
		t.Fatalf("printed before printing: %v", v)
	}
	if v := value(t, before, "printstation_jobs", map[string]string{"state": "queued"}); v != 3 {
		t.Fatalf("queued jobs before printing: %v, want 3", v)
	}
	r.runUntil(r.allIn(ids, jobqueue.Printed))

	fams := scrape(t, e)
	if v := value(t, fams, "printstation_cards_printed_total", map[string]string{"printer": "p1"}); v != 3 {
		t.Errorf("printed %v, want 3", v)
	}
	if v := value(t, fams, "printstation_cards_spoiled_total", map[string]string{"printer": "p1", "reason": "chip_write"}); v != 1 {
		t.Errorf("spoiled (chip_write) %v, want 1", v)
	}
	if v := value(t, fams, "printstation_cards_spoiled_total", map[string]string{"printer": "p1", "reason": "jam"}); v != 0 {
		t.Errorf("spoiled (jam) %v, want 0", v)
	}
	s, err := e.ledger.Stock(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if v := value(t, fams, "printstation_blanks", map[string]string{"location": "printer:p1"}); v != float64(s.Printers["p1"]) || v != 100-4 {
		t.Errorf("blanks in p1 %v, ledger %d", v, s.Printers["p1"])
	}
	if v := value(t, fams, "printstation_blanks_spoiled_awaiting_destruction", nil); v != 1 {
		t.Errorf("spoiled awaiting destruction %v, want 1", v)
	}
	if v := value(t, fams, "printstation_jobs", map[string]string{"state": "queued"}); v != 0 {
		t.Errorf("queued jobs after printing: %v", v)
	}
	// Four blanks went through the printer: three ejected, one rejected;
	// four chips were written, one refused.
	if v := value(t, fams, "printstation_card_duration_seconds", map[string]string{"outcome": "ok"}); v != 3 {
		t.Errorf("card timings (ok) %v, want 3", v)
	}
	if v := value(t, fams, "printstation_card_duration_seconds", map[string]string{"outcome": "rejected"}); v != 1 {
		t.Errorf("card timings (rejected) %v, want 1", v)
	}
	if v := value(t, fams, "printstation_chip_personalize_duration_seconds", map[string]string{"outcome": "error"}); v != 1 {
		t.Errorf("chip timings (error) %v, want 1", v)
	}
	// A second scrape adds nothing: the running sums read each event once.
	again := scrape(t, e)
	if v := value(t, again, "printstation_cards_printed_total", map[string]string{"printer": "p1"}); v != 3 {
		t.Errorf("printed on the second scrape %v, want 3", v)
	}
	// One state per printer is 1.
	on := 0
	for _, st := range PrinterStates {
		on += int(value(t, fams, "printstation_printer_state", map[string]string{"printer": "p1", "state": st}))
	}
	if on != 1 {
		t.Errorf("%d printer states are 1, want exactly one", on)
	}
	// Nothing personal and no job ids in any label.
	for name, f := range fams {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				for _, id := range ids {
					if strings.Contains(l.GetValue(), id) {
						t.Errorf("%s has a job id in label %s", name, l.GetName())
					}
				}
			}
		}
	}
}
