package station

import (
	"fmt"
	"testing"

	"printstation/printer"
	"printstation/station/guide"
)

// Every fault kind the driver can report is in exactly one row of the
// guidance table, and a printer stopped by it shows that row; every code
// the engine sets and every worker state has a row; no row offers an
// action that is not a button.
func TestGuidanceCoversEveryFaultCodeAndState(t *testing.T) {
	rows := map[printer.Kind][]string{}
	for _, g := range guide.Guidance {
		for _, k := range g.Kinds {
			rows[k] = append(rows[k], g.Key)
		}
	}
	for _, k := range printer.Kinds() {
		if len(rows[k]) != 1 {
			t.Errorf("fault kind %q is in %d rows of the guidance table (%v), want exactly one", k, len(rows[k]), rows[k])
			continue
		}
		for _, err := range []error{
			&printer.Error{Printer: "p1", Op: "feed", Kind: k},
			fmt.Errorf("wrapped: %w", &printer.Error{Printer: "p1", Op: "print", Kind: k}),
		} {
			code := printerErrCode(err)
			g := GuideFor(PrinterState{State: string(wPaused), Code: code})
			if g.Key != rows[k][0] {
				t.Errorf("a printer stopped by %q shows row %q, want %q", k, g.Key, rows[k][0])
			}
		}
	}
	for _, c := range PrinterCodes {
		if g := GuideFor(PrinterState{State: string(wPaused), Code: c}); g.Key != c {
			t.Errorf("code %q has no row (got %q)", c, g.Key)
		}
	}
	for s := range workerMachine {
		if g := GuideFor(PrinterState{State: string(s)}); g.Key != string(s) {
			t.Errorf("state %q has no row (got %q)", s, g.Key)
		}
	}
	// And no row is for a key the engine never sets.
	keys := map[string]bool{}
	for _, c := range PrinterCodes {
		keys[c] = true
	}
	for s := range workerMachine {
		keys[string(s)] = true
	}
	for _, g := range guide.Guidance {
		if !keys[g.Key] {
			t.Errorf("row %q is neither a printer code nor a worker state", g.Key)
		}
	}
	buttons := map[guide.Action]bool{guide.ActResume: true}
	for _, a := range guide.TechActions {
		buttons[a] = true
	}
	for _, g := range guide.Guidance {
		if g.Message == "" || (g.Tone != "ok" && g.Tone != "warn" && g.Tone != "stop") {
			t.Errorf("row %q: message %q, tone %q", g.Key, g.Message, g.Tone)
		}
		for _, a := range g.Allow {
			if !buttons[a] {
				t.Errorf("row %q allows %q, which is no button", g.Key, a)
			}
		}
	}
	// Nothing drives a printer that is printing a card, and the cleaning
	// stop is left only by a cleaning.
	if g := GuideFor(PrinterState{State: string(wPrinting)}); len(g.Allow) != 0 {
		t.Errorf("a printing printer allows %v", g.Allow)
	}
	if g := GuideFor(PrinterState{State: string(wPaused), Code: PrinterCleaningDue}); g.Allows(guide.ActResume) || !g.Allows(guide.ActClean) || !g.Allows(guide.ActCleaningDone) {
		t.Errorf("the cleaning stop allows %v", g.Allow)
	}
	if g := GuideFor(PrinterState{State: "paused", Code: "a_code_from_the_future"}); g.Allows(guide.ActTestCard) || g.Message != "printer_code_unknown" {
		t.Errorf("an unknown code gets %+v", g)
	}
}
