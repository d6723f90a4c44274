package web

import (
	"bytes"
	"image"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"printstation/station"
)

// deskFake is a station with one desk printer at the tap-back step.
type deskFake struct {
	*fakeStation
	view station.DeskView
}

func (d *deskFake) Desk(name string) (station.DeskView, bool) {
	if name != "d1" {
		return station.DeskView{}, false
	}
	return d.view, true
}

func TestDeskStepShownToStaff(t *testing.T) {
	var face bytes.Buffer
	png.Encode(&face, image.NewRGBA(image.Rect(0, 0, 8, 5)))
	f := &deskFake{fakeStation: newFake(), view: station.DeskView{Step: "tap_back", Job: "J-90", Name: "SITI NURHALIZA", Face: face.Bytes(), Message: "wrong card: take it off and tap the card that just came out of the printer", Note: "wrong_card"}}
	f.printers = append(f.printers, station.PrinterState{Name: "d1", State: "printing", Job: "J-90"})

	// Before sign-in: neither the step's card nor its face.
	anon := newClient(t, f)
	if rec := anon.get("/desk/face?printer=d1"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("face without sign-in: %d", rec.Code)
	}
	if rec := anon.get("/"); strings.Contains(rec.Body.String(), "SITI") {
		t.Fatal("the citizen's name is shown before sign-in")
	}

	c := signedIn(t, f, "Sari", Operator)
	// The step in the page's language: Indonesian first, English on request.
	for accept, words := range map[string][2]string{
		"id": {"Tempelkan kartu yang sudah dicetak di pembaca kartu meja", "Kartu salah: ambil, lalu tempelkan kartu yang baru keluar dari printer"},
		"en": {"Tap the printed card on the desk reader", "Wrong card: take it off and tap the card that just came out of the printer"},
	} {
		c.accept = accept
		body := c.get("/").Body.String()
		if strings.Contains(body, "wrong card: take it off") {
			t.Errorf("the engine's English detail is on the page")
		}
		for _, want := range []string{
			`id="desk-d1"`, `data-step="tap_back"`, words[0], words[1],
			"SITI NURHALIZA", "J-90", `src="/desk/face?printer=d1&amp;job=J-90"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("desk panel (%s) lacks %q", accept, want)
			}
		}
		if t.Failed() {
			t.Log(body)
		}
	}
	rec := c.get("/desk/face?printer=d1")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || !bytes.Equal(rec.Body.Bytes(), face.Bytes()) {
		t.Fatalf("face for staff: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	if rec := c.get("/desk/face?printer=p1"); rec.Code != http.StatusNotFound {
		t.Fatalf("face of a printer that is not a desk printer: %d", rec.Code)
	}
	// Every step has its words in both languages (the catalog test checks
	// the ids; here: the two differ, so neither is a copy).
	id, en := newLang("id", nil), newLang("en", nil)
	for _, step := range deskSteps() {
		if a, b := id.T(deskStepID(step)), en.T(deskStepID(step)); a == b || !id.Known(deskStepID(step)) {
			t.Errorf("step %s: %q / %q", step, a, b)
		}
	}
	for _, note := range deskNotes() {
		if a, b := id.T(deskNoteID(note)), en.T(deskNoteID(note)); a == b || !id.Known(deskNoteID(note)) {
			t.Errorf("note %s: %q / %q", note, a, b)
		}
	}
}
