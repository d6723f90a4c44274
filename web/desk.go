package web

import (
	"net/http"

	"printstation/station"
)

// deskSource is the engine's desk step per printer (encoder = "desk").
// Optional: a Station without desk printers need not have it.
type deskSource interface {
	Desk(printer string) (station.DeskView, bool)
}

// deskRow is a desk printer's step as the page shows it: in big type, in
// the page's language, with the card's face and the citizen's name so
// that the right card goes into the printer. The live part of the page is
// served to signed-in staff only, and so is the face (/desk/face).
type deskRow struct {
	Step string // a deskSteps entry, or "" between cards
	Job  string
	Name string
	Face bool
	Note string // why the step is shown again: a deskNotes entry, or ""
}

// deskNotes are the engine's notes on a step; each has a message
// desk_note_<note>.
func deskNotes() []string { return []string{"no_chip", "known_card", "wrong_card", "spoiled", "done"} }

func deskNoteID(note string) string {
	for _, n := range deskNotes() {
		if n == note {
			return "desk_note_" + n
		}
	}
	return ""
}

// deskSteps are the engine's desk steps; each has a message desk_step_<step>.
func deskSteps() []string {
	return []string{"place_blank", "writing", "to_feed", "printing", "tap_back", "put_aside", "waiting"}
}

func deskStepID(step string) string {
	for _, s := range deskSteps() {
		if s == step {
			return "desk_step_" + s
		}
	}
	return "desk_step_waiting"
}

func (h *handler) deskRow(name string) *deskRow {
	ds, ok := h.st.(deskSource)
	if !ok {
		return nil
	}
	v, ok := ds.Desk(name)
	if !ok {
		return nil
	}
	return &deskRow{Step: v.Step, Job: v.Job, Name: v.Name, Face: len(v.Face) > 0, Note: v.Note}
}

// deskFace serves the face preview of the card at a desk printer, to
// signed-in staff only; never cached (Cache-Control: no-store on every
// answer).
func (h *handler) deskFace(w http.ResponseWriter, r *http.Request) {
	s := h.sessions.lookup(r)
	l := h.langOf(r, s)
	if s == nil || s.Name == "" {
		http.Error(w, l.T("err_sign_in_first"), http.StatusUnauthorized)
		return
	}
	ds, ok := h.st.(deskSource)
	name := r.URL.Query().Get("printer")
	if !ok || !validID(name) {
		http.Error(w, l.T("desk_no_printer"), http.StatusNotFound)
		return
	}
	v, ok := ds.Desk(name)
	if !ok || len(v.Face) == 0 {
		http.Error(w, l.T("desk_no_card"), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(v.Face)
}
