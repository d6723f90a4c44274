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
// Indonesian and English, with the card's face and the citizen's name so
// that the right card goes into the printer. The live part of the page is
// served to signed-in staff only, and so is the face (/desk/face).
type deskRow struct {
	Step           string
	ID, EN         string // the step, in Indonesian and in English
	Job            string
	Name           string
	Face           bool
	NoteID, NoteEN string // why the step is shown again, in both languages
}

// deskWords is every step's instruction in both languages.
var deskWords = map[string][2]string{
	"place_blank": {"Letakkan kartu kosong di pembaca kartu meja", "Place a blank card on the desk reader"},
	"writing":     {"Menulis chip — biarkan kartu di pembaca", "Writing the chip — leave the card on the reader"},
	"to_feed":     {"Masukkan kartu ini ke pengumpan manual printer", "Put this card in the printer's manual feed"},
	"printing":    {"Mencetak muka kartu", "Printing the card's face"},
	"tap_back":    {"Tempelkan kartu yang sudah dicetak di pembaca kartu meja", "Tap the printed card on the desk reader"},
	"put_aside":   {"Ambil kartu dari pembaca", "Take the card off the reader"},
}

// deskNotes words the engine's notes on a step in both languages.
var deskNotes = map[string][2]string{
	"no_chip":    {"Kartu ini tanpa chip: masukkan kartu kosong ke pengumpan manual", "This card has no chip: put a blank card in the manual feed"},
	"known_card": {"Kartu ini sudah tercatat, bukan kartu kosong: sisihkan dan letakkan kartu kosong baru", "This card is already counted, it is not a blank: put it aside and place a fresh blank"},
	"wrong_card": {"Kartu salah: ambil, lalu tempelkan kartu yang baru keluar dari printer", "Wrong card: take it off and tap the card that just came out of the printer"},
	"spoiled":    {"Kartu ini rusak: simpan bersama kartu rusak", "This card is spoiled: put it with the spoiled cards"},
	"done":       {"Kartu selesai", "Card done"},
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
	r := &deskRow{Step: v.Step, Job: v.Job, Name: v.Name, Face: len(v.Face) > 0}
	if n, ok := deskNotes[v.Note]; ok {
		r.NoteID, r.NoteEN = n[0], n[1]
	}
	if w, ok := deskWords[v.Step]; ok {
		r.ID, r.EN = w[0], w[1]
	} else {
		r.ID, r.EN = "Menunggu kartu berikutnya", "Waiting for the next card"
	}
	return r
}

// deskFace serves the face preview of the card at a desk printer, to
// signed-in staff only; it is never cached.
func (h *handler) deskFace(w http.ResponseWriter, r *http.Request) {
	// The live part loads it: it keeps no session alive, and it ends
	// with the account (current checks it).
	s := h.current(r, false)
	if s == nil || s.Name == "" {
		http.Error(w, "sign in first", http.StatusUnauthorized)
		return
	}
	ds, ok := h.st.(deskSource)
	name := r.URL.Query().Get("printer")
	if !ok || !validID(name) {
		http.Error(w, "no such desk printer", http.StatusNotFound)
		return
	}
	v, ok := ds.Desk(name)
	if !ok || len(v.Face) == 0 {
		http.Error(w, "no card at this desk printer now", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(v.Face)
}
