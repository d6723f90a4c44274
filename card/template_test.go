package card_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"printstation/card"
)

// tmpl wraps element JSON in a valid template.
func tmpl(elements ...string) string {
	return `{"version": 1, "id": "t1", "elements": [` + strings.Join(elements, ",") + `]}`
}

const okText = `{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30}`

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		element string // element the error must name ("" = the template)
		want    string // part of the message
	}{
		{"not json", `{"version": 1,`, "", "not valid template JSON"},
		{"trailing data", tmpl(okText) + `{}`, "", "data after the end"},
		{"unknown top-level key", `{"version": 1, "id": "t1", "colour": "#fff", "elements": [` + okText + `]}`, "", `unknown field "colour"`},
		{"wrong version", `{"version": 2, "id": "t1", "elements": [` + okText + `]}`, "", `"version" is 2`},
		{"bad id", `{"version": 1, "id": "has space", "elements": [` + okText + `]}`, "", `"id"`},
		{"no elements", `{"version": 1, "id": "t1", "elements": []}`, "", `"elements" is empty`},
		{"bad gradient direction", `{"version": 1, "id": "t1", "background": {"gradient": {"from": "#ffffff", "to": "#000000", "direction": "radial"}}, "elements": [` + okText + `]}`, "", "radial"},
		{"background colour and gradient", `{"version": 1, "id": "t1", "background": {"color": "#ffffff", "gradient": {"from": "#ffffff", "to": "#000000"}}, "elements": [` + okText + `]}`, "", "choose one"},
		{"unknown element key", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "colour": "#000000"}`), "nama", `unknown field "colour"`},
		{"key of another type", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 100, "h": 10, "fill": "#ff0000", "font": "go"}`), "band", `unknown field "font"`},
		{"unknown type", tmpl(`{"type": "circle", "name": "c", "x": 0, "y": 0, "w": 10, "h": 10}`), "c", `"type" "circle"`},
		{"bad name", tmpl(`{"type": "rect", "name": "Band 1", "x": 0, "y": 0, "w": 10, "h": 10, "fill": "#ff0000"}`), "Band 1", `"name"`},
		{"duplicate name", tmpl(okText, okText), "nama", "already used by element #0"},
		{"outside right", tmpl(`{"type": "rect", "name": "band", "x": 900, "y": 0, "w": 200, "h": 10, "fill": "#ff0000"}`), "band", "outside the card"},
		{"outside bottom", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 640, "w": 20, "h": 10, "fill": "#ff0000"}`), "band", "outside the card"},
		{"negative x", tmpl(`{"type": "rect", "name": "band", "x": -1, "y": 0, "w": 20, "h": 10, "fill": "#ff0000"}`), "band", "outside the card"},
		{"missing h", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 20, "fill": "#ff0000"}`), "band", `"h" is missing`},
		{"zero width", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 0, "h": 10, "fill": "#ff0000"}`), "band", "must be positive"},
		{"shape without paint", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 20, "h": 10}`), "band", `"fill" or "stroke"`},
		{"bad colour", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 20, "h": 10, "fill": "red"}`), "band", `colour "red"`},
		{"unknown font", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "font": "arial"}`), "nama", `"font" "arial" is not embedded`},
		{"unknown weight", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "weight": "black"}`), "nama", `"weight" "black"`},
		{"size too small", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 2}`), "nama", `"size" 2`},
		{"min size above size", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 20, "min_size": 25}`), "nama", `"min_size" 25`},
		{"box lower than a line", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 20, "text": "{nama}", "size": 30}`), "nama", "box height 20 is less than one line"},
		{"empty text", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "", "size": 30}`), "nama", `"text" is empty`},
		{"unclosed placeholder", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama", "size": 30}`), "nama", "'{' without '}'"},
		{"stray brace", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "nama}", "size": 30}`), "nama", "'}' without '{'"},
		{"bad field name", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{Nama Lengkap}", "size": 30}`), "nama", "not a field name"},
		{"max_lines without wrap", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "max_lines": 2}`), "nama", `"max_lines" needs "fit": "wrap"`},
		{"bad fit", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "fit": "clip"}`), "nama", `"fit" "clip"`},
		{"bad align", tmpl(`{"type": "text", "name": "nama", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "align": "justify"}`), "nama", `"align" "justify"`},
		{"coloured text on K", tmpl(`{"type": "text", "name": "nama", "layer": "k", "x": 10, "y": 10, "w": 300, "h": 40, "text": "{nama}", "size": 30, "color": "#0000ff"}`), "nama", "the K panel prints black only"},
		{"coloured fill on K", tmpl(`{"type": "rect", "name": "band", "layer": "k", "x": 0, "y": 0, "w": 20, "h": 10, "fill": "#ff0000"}`), "band", "the K panel prints black only"},
		{"unknown layer", tmpl(`{"type": "rect", "name": "band", "layer": "uv", "x": 0, "y": 0, "w": 20, "h": 10, "fill": "#ff0000"}`), "band", `"layer" "uv"`},
		{"image bad source", tmpl(`{"type": "image", "name": "foto", "source": "selfie", "x": 0, "y": 0, "w": 20, "h": 10}`), "foto", `"source" "selfie"`},
		{"qr bad ec", tmpl(`{"type": "qr", "name": "qr", "text": "{nik}", "ec": "X", "x": 0, "y": 0, "w": 100, "h": 100}`), "qr", `"ec" "X"`},
		{"qr bad quiet", tmpl(`{"type": "qr", "name": "qr", "text": "{nik}", "quiet": 0, "x": 0, "y": 0, "w": 100, "h": 100}`), "qr", `"quiet" 0`},
		{"stroke width without stroke", tmpl(`{"type": "rect", "name": "band", "x": 0, "y": 0, "w": 20, "h": 10, "fill": "#ff0000", "stroke_width": 3}`), "band", `"stroke_width" without "stroke"`},
		{"radius on ellipse", tmpl(`{"type": "ellipse", "name": "dot", "x": 0, "y": 0, "w": 20, "h": 10, "fill": "#ff0000", "radius": 3}`), "dot", `"radius" is for rect only`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tpl, err := card.Parse([]byte(tt.json))
			if err == nil {
				t.Fatalf("Parse accepted it (id %q)", tpl.ID())
			}
			if !errors.Is(err, card.ErrInvalidTemplate) {
				t.Errorf("error does not match ErrInvalidTemplate: %v", err)
			}
			var te *card.TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error is %T, want *card.TemplateError: %v", err, err)
			}
			if te.Element != tt.element {
				t.Errorf("error names element %q, want %q: %v", te.Element, tt.element, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			if tt.element != "" && !strings.Contains(msg, `element "`+tt.element+`"`) {
				t.Errorf("error %q does not name the element %q", msg, tt.element)
			}
		})
	}
}

func TestParseTooLarge(t *testing.T) {
	b := []byte(tmpl(okText))
	b = append(b, make([]byte, 1<<20)...)
	if _, err := card.Parse(b); !errors.Is(err, card.ErrInvalidTemplate) || !strings.Contains(err.Error(), "bytes, more than") {
		t.Fatalf("Parse of a 1 MiB template: %v", err)
	}
}

func TestParseDemo(t *testing.T) {
	b := card.DemoTemplateJSON()
	tpl, err := card.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.ID() != card.DemoTemplateID {
		t.Errorf("ID() = %q, want %q", tpl.ID(), card.DemoTemplateID)
	}
	if tpl.Hash() != card.Hash(b) || len(tpl.Hash()) != 64 {
		t.Errorf("Hash() = %q, card.Hash(bytes) = %q", tpl.Hash(), card.Hash(b))
	}
	want := []string{"agama", "alamat", "berlaku_hingga", "jenis_kelamin", "kabupaten", "kecamatan", "kel_desa", "kewarganegaraan", "nama", "nik", "pekerjaan", "provinsi", "rt_rw", "status_perkawinan", "tanggal_terbit", "tempat_terbit", "tempat_tgl_lahir"}
	if got := tpl.Fields(); !slices.Equal(got, want) {
		t.Errorf("Fields() = %v\nwant %v", got, want)
	}
	if got := tpl.RequiredFields(); !slices.Equal(got, want) {
		t.Errorf("RequiredFields() = %v", got)
	}
	if !tpl.UsesBlack() {
		t.Error("demo template puts text and QR on K, UsesBlack() = false")
	}
	// Callers cannot change the embedded bytes (the hash would drift).
	b[0] = 'X'
	if card.Hash(card.DemoTemplateJSON()) != tpl.Hash() {
		t.Error("DemoTemplateJSON returned the embedded slice itself")
	}
}

func TestHashIsOfExactBytes(t *testing.T) {
	a := []byte(tmpl(okText))
	b := []byte(tmpl(okText) + "\n")
	ta, err := card.Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := card.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if ta.Hash() == tb.Hash() {
		t.Error("a trailing newline must change the hash: templates are cached by exact bytes")
	}
	if card.Hash([]byte("abc")) != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Error("Hash is not hex SHA-256")
	}
}

func TestParseOptionalFields(t *testing.T) {
	tpl, err := card.Parse([]byte(tmpl(okText, `{"type": "text", "name": "gelar", "x": 10, "y": 60, "w": 300, "h": 40, "text": "{gelar}", "size": 30, "optional": true}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.RequiredFields(); !slices.Equal(got, []string{"nama"}) {
		t.Errorf("RequiredFields() = %v, want [nama]", got)
	}
	if got := tpl.Fields(); !slices.Equal(got, []string{"gelar", "nama"}) {
		t.Errorf("Fields() = %v", got)
	}
	if tpl.UsesBlack() {
		t.Error("nothing on K, UsesBlack() = true")
	}
}
