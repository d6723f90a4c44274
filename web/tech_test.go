package web

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/station"
	"printstation/station/guide"
)

// The fake engine's technician's side: health from the printer states,
// and PrinterDiag refusing what the guidance table refuses, as the engine
// does.
func (f *fakeStation) PrinterHealth(_ context.Context, name string) (*station.PrinterHealth, error) {
	for _, p := range f.printers {
		if p.Name == name {
			return &station.PrinterHealth{Name: name, State: p, Guide: station.GuideFor(p), Read: time.Now(),
				Info:     &printer.Info{Model: "Primacy Sim", Serial: "SIM-" + name, Firmware: "1.0", Ribbon: "ymcko"},
				Counters: &printer.Counters{CardsInserted: 1234, Cleanings: 2, RibbonLeft: 188},
				Cleaning: &station.CleaningState{WarnAt: 1000, StopAt: 2000, Since: 1100, Soon: true, Last: &station.CleaningMark{How: station.CleanCycle, Actor: "tek", At: time.Now()}},
				Sensors:  []printer.Sensor{{Code: "o", Name: "cover", Volts: 5, Reading: "closed"}}}, nil
		}
	}
	return nil, nil
}

func (f *fakeStation) PrinterDiag(_ context.Context, name, op, actor string) (any, error) {
	for _, p := range f.printers {
		if p.Name == name {
			if g := station.GuideFor(p); !g.Allows(guide.Action(op)) {
				return nil, &station.DiagRefused{Printer: name, Op: guide.Action(op), State: p, Guide: g}
			}
		}
	}
	if err := f.record("diag " + name + " " + op + " " + actor); err != nil {
		return nil, err
	}
	if op == string(guide.ActTestCard) {
		return &station.TestCardResult{Printer: name, Blanks: 1}, nil
	}
	return station.DiagDone{Printer: name, Done: op}, nil
}

// A technician sees each printer's health and the buttons the guidance
// table allows; the test card runs through the engine, its blank is
// reported and the people log keeps it; a button on a printing printer
// is refused with why, and reaches nothing.
func TestTechnicianPage(t *testing.T) {
	f := newFake()
	f.printers = append(f.printers, station.PrinterState{Name: "p3", State: "idle"})
	c := signedIn(t, f, "tek", "technician")
	page := c.get("/tech").Body.String()
	for _, want := range []string{"Primacy Sim", "SIM-p3", "ymcko", "188", "1,100", "Station rule: a warning at 1,000 cards", "1,100 cards since the cleaning; the printer stops at 2,000 cards. Plan a cleaning.", `id="tech-p3-test-card"`, "A card is stuck"} {
		if !strings.Contains(page, want) {
			t.Errorf("the technician's page lacks %q", want)
		}
	}
	// p1 prints: its buttons are off; p3 is idle: on.
	if !strings.Contains(page, `id="tech-p1-test-card" disabled`) || strings.Contains(page, `id="tech-p3-test-card" disabled`) {
		t.Errorf("buttons: p1 (printing) must be off, p3 (idle) on")
	}
	got := c.next(c.post("/tech", url.Values{"printer": {"p3"}, "op": {"test-card"}, "back": {"/tech"}}))
	if !strings.Contains(got, "Test card printed on printer p3: 1 blank recorded as spoiled (cause: test card).") {
		t.Errorf("after the test card the page says:\n%s", got)
	}
	if calls := f.Calls(); len(calls) != 1 || calls[0] != "diag p3 test-card tek" {
		t.Errorf("engine calls %q", calls)
	}
	if log := strings.Join(c.acc.people(), "\n"); !strings.Contains(log, "printer_diag_test-card") {
		t.Errorf("the people log lacks the test card:\n%s", log)
	}
	got = c.next(c.post("/tech", url.Values{"printer": {"p1"}, "op": {"self-adjust"}, "back": {"/tech"}}))
	if !strings.Contains(got, "Not done: printer p1 is printing a card.") {
		t.Errorf("a button on a printing printer:\n%s", got)
	}
	if calls := f.Calls(); len(calls) != 1 {
		t.Errorf("a refused button reached the engine: %q", calls)
	}
	// The same page in Indonesian.
	c.lang = nil
	c.accept = "id-ID,id"
	page = c.get("/tech/p3").Body.String()
	for _, want := range []string{"Kartu uji", "Pembersihan", "Pita", "Sisa cetak", "Printer siap.", "penutup (o)", ">tertutup<"} {
		if !strings.Contains(page, want) {
			t.Errorf("the Indonesian page lacks %q", want)
		}
	}
	// The print room's tile says a cleaning is due soon, and links the
	// technician to the printer's screen.
	f.printers[2].CleaningSoon = true
	home := c.get("/").Body.String()
	if !strings.Contains(home, `class="warn cleaning-soon"`) || !strings.Contains(home, `href="/tech/p3"`) {
		t.Errorf("the home page lacks the cleaning warning or the link to the printer's screen")
	}
	// An auditor reads, presses nothing.
	a := signedIn(t, f, "aud", "auditor")
	page = a.get("/tech").Body.String()
	if !strings.Contains(page, `id="tech-read-only"`) || !strings.Contains(page, `id="tech-p3-test-card" disabled`) {
		t.Errorf("an auditor's page offers the buttons")
	}
}

// Every sensor the Evolis driver reads has its name in both languages: a
// technician reading Indonesian never meets the driver's English.
func TestSensorNamesTranslated(t *testing.T) {
	for _, code := range evolis.SensorCodes {
		if !slices.Contains(sensorCodes, code) {
			t.Errorf("the Evolis driver reads sensor %q, which the page has no words for", code)
		}
	}
	id := newLang("id", nil)
	if got := id.orEnglish(sensorNameID("o"), "cover"); got != "penutup" {
		t.Errorf("sensor o in Indonesian: %q", got)
	}
	if got := id.orEnglish(sensorNameID("z"), "new <sensor>"); got != `<span lang="en">new &lt;sensor&gt;</span>` {
		t.Errorf("a sensor without words: %q", got)
	}
}
