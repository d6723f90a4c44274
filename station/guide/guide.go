// Package guide is the printer guidance table: for every state a
// printer's worker can be in and every code the engine stops a printer
// with (each driver fault kind among them), what a person sees — a
// message id of the page's catalogs (web/locales, Indonesian and English;
// printstationctl reads the same files through web/locales) — and which
// buttons they may press. The page, printstationctl and the engine's
// refusals (station.Engine.PrinterDiag) all read this one table. It links
// no engine, so that printstationctl may use it.
package guide

import (
	"errors"
	"slices"

	"printstation/printer"
)

// The keys: a printer's worker state when it has no code, else the code
// the engine set (station.PrinterState.Code, station/codes.go). The
// station's tests check that every state and every code has a row here.
const (
	StateIdle      = "idle"
	StatePrinting  = "printing"
	StatePaused    = "paused"
	StateAttention = "attention"
	StateOffline   = "offline"
	StateStopped   = "stopped"
)

// Action is a button a person may press about one printer. The
// technician's actions are the daemon's diag operations of the same name
// (POST /v1/printers/{name}/diag/{op}); resume is the printer's Resume.
type Action string

// Actions.
const (
	ActResume       Action = "resume"          // go on after fixing the printer (printer.resume)
	ActTestCard     Action = "test-card"       // the printer's own test card: takes a blank, a ledger event
	ActClean        Action = "clean"           // the printer's cleaning cycle with a cleaning card; recorded
	ActCleaningDone Action = "record-cleaning" // a cleaning done at the printer by hand, recorded
	ActSelfAdjust   Action = "self-adjust"     // the printer adjusts its sensors
	ActReaderTest   Action = "reader-test"     // write, read back and compare a scratch file on the card at the encoder
	ActProbe        Action = "probe"           // every read-only command and what the driver makes of it
)

// TechActions are the technician's actions in the order the page shows
// their buttons.
var TechActions = []Action{ActTestCard, ActClean, ActCleaningDone, ActSelfAdjust, ActReaderTest, ActProbe}

// Guide is what a person sees about a printer in one condition and what
// they may do about it. The page shows Message (a message id of its
// catalogs, Indonesian and English) and offers only the buttons in Allow;
// printstationctl prints the same words and the same list; the engine
// refuses a technician's action that Allow does not hold
// (station.Engine.PrinterDiag).
type Guide struct {
	// Key is the printer's code (station.PrinterState.Code) when it has
	// one, else its state ("idle", "printing", …).
	Key string
	// Kinds are the driver's fault kinds that stop a printer with this
	// code (CodeOf reads them): every printer.Kind is in exactly
	// one row.
	Kinds []printer.Kind
	// Message is the page's message id: printer_code_<code> or
	// printer_guide_<state>.
	Message string
	// Tone is the tile's colour: ok, warn, stop.
	Tone  string
	Allow []Action
}

// Allows says whether the guide offers a.
func (g Guide) Allows(a Action) bool { return slices.Contains(g.Allow, a) }

// maintenance is every technician's action: for a printer that waits
// between cards with nothing wrong.
var maintenance = []Action{ActTestCard, ActClean, ActCleaningDone, ActSelfAdjust, ActReaderTest, ActProbe}

func with(base []Action, more ...Action) []Action {
	return append(append([]Action(nil), more...), base...)
}

// Guidance is the table: every printer state and every code the engine
// sets, with what a person sees and may do. The page, printstationctl and
// the engine's refusals all read it.
var Guidance = []Guide{
	// States with no code: the printer's worker says nothing more.
	{Key: StateIdle, Message: "printer_guide_idle", Tone: "ok", Allow: maintenance},
	{Key: StatePrinting, Message: "printer_guide_printing", Tone: "ok"}, // a card is in the printer: nothing else drives it
	{Key: StatePaused, Message: "printer_guide_paused", Tone: "warn", Allow: with(maintenance, ActResume)},
	{Key: StateAttention, Message: "printer_guide_attention", Tone: "stop", Allow: []Action{ActResume, ActProbe}},
	{Key: StateOffline, Message: "printer_guide_offline", Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: StateStopped, Message: "printer_guide_stopped", Tone: "stop"},

	// The driver's faults.
	{Key: "jam", Kinds: []printer.Kind{printer.KindJam}, Tone: "stop", Allow: []Action{ActResume, ActProbe}},
	{Key: "feeder_empty", Kinds: []printer.Kind{printer.KindFeederEmpty}, Tone: "warn", Allow: []Action{ActResume, ActSelfAdjust, ActProbe}},
	{Key: "ribbon_out", Kinds: []printer.Kind{printer.KindRibbonOut}, Tone: "warn", Allow: []Action{ActResume, ActClean, ActCleaningDone, ActProbe}},
	{Key: "ribbon_mismatch", Kinds: []printer.Kind{printer.KindRibbonMismatch}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: "cover_open", Kinds: []printer.Kind{printer.KindCoverOpen}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: "reject_full", Kinds: []printer.Kind{printer.KindRejectFull}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: "output_full", Kinds: []printer.Kind{printer.KindOutputFull}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: "needs_cleaning", Kinds: []printer.Kind{printer.KindNeedsCleaning}, Tone: "warn", Allow: []Action{ActClean, ActCleaningDone, ActResume, ActProbe}},
	{Key: "busy", Kinds: []printer.Kind{printer.KindBusy}, Tone: "warn", Allow: []Action{ActProbe}},
	{Key: "head_fault", Kinds: []printer.Kind{printer.KindHead}, Tone: "stop", Allow: []Action{ActProbe, ActResume}},
	{Key: "not_answering", Kinds: []printer.Kind{printer.KindDisconnected, printer.KindTimeout}, Tone: "warn", Allow: []Action{ActProbe}},
	{Key: "queue_stopped", Kinds: []printer.Kind{printer.KindStopped}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	{Key: "job_cancelled", Kinds: []printer.Kind{printer.KindCancelled}, Tone: "warn", Allow: []Action{ActResume, ActProbe}},
	// Last: a joined error names its more specific kind first.
	{Key: "printer_fault", Kinds: []printer.Kind{printer.KindOther, printer.KindRefused, printer.KindProtocol}, Tone: "stop", Allow: []Action{ActResume, ActSelfAdjust, ActProbe}},

	// The engine's own stops.
	// The cleaning policy: no Resume — only a recorded cleaning lets the
	// printer go on (cleaning.go).
	{Key: "cleaning_due", Tone: "warn", Allow: []Action{ActClean, ActCleaningDone, ActSelfAdjust, ActProbe}},
	{Key: "card_inside", Tone: "stop", Allow: []Action{ActResume, ActProbe}},
	{Key: "not_ready", Tone: "warn", Allow: []Action{ActResume, ActSelfAdjust, ActClean, ActCleaningDone, ActProbe}},
	{Key: "encoder_unreachable", Tone: "warn", Allow: []Action{ActResume, ActReaderTest, ActProbe}},
	// No blanks in the ledger: every maintenance but the test card, which
	// takes a blank the ledger does not have.
	{Key: "no_blanks_loaded", Tone: "warn", Allow: []Action{ActClean, ActCleaningDone, ActSelfAdjust, ActReaderTest, ActProbe}},
	{Key: "record_failed", Tone: "stop", Allow: []Action{ActResume}},
	{Key: "uncertain_after_restart", Tone: "stop", Allow: []Action{ActResume, ActProbe}},
	{Key: "stopping", Tone: "stop"},
	{Key: "desk_setup", Tone: "stop", Allow: []Action{ActResume, ActProbe}},
	{Key: "desk_counted", Tone: "warn", Allow: []Action{ActResume}},
	{Key: "desk_waited", Tone: "warn", Allow: []Action{ActResume}},
	{Key: "desk_card_left", Tone: "warn", Allow: []Action{ActResume}},
	{Key: "desk_not_tapped", Tone: "stop", Allow: []Action{ActResume}},
	{Key: "ribbon_config", Tone: "warn", Allow: []Action{ActResume, ActProbe}},
}

// guideIndex finds a row by key.
var guideIndex = func() map[string]int {
	m := map[string]int{}
	for i := range Guidance {
		g := &Guidance[i]
		if g.Message == "" {
			g.Message = "printer_code_" + g.Key
		}
		m[g.Key] = i
	}
	return m
}()

// unknownGuide is for a code newer than the table: look, and probe.
var unknownGuide = Guide{Key: "unknown", Message: "printer_code_unknown", Tone: "stop", Allow: []Action{ActResume, ActProbe}}

// For is the table's row for a printer as the engine reports it: by its
// code when it has one, else by its state. A code or state the table does
// not know gets a row that offers only Resume and the probe (fail closed:
// nothing that moves a card).
func For(state, code string) Guide {
	key := code
	if key == "" {
		key = state
	}
	if i, ok := guideIndex[key]; ok {
		return Guidance[i]
	}
	return unknownGuide
}

// CodeOf maps the driver's typed errors to a code: the row whose Kinds
// hold the error's kind (errors.Is on the kind's sentinel, so a
// transport's LinkError and a wrapped sentinel match too); the general
// printer fault when none does.
func CodeOf(err error) string {
	for _, g := range Guidance {
		for _, k := range g.Kinds {
			if s := k.Sentinel(); s != nil && errors.Is(err, s) {
				return g.Key
			}
		}
	}
	return "printer_fault"
}
