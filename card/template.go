// Package card defines the card layout template format and renders a job's
// fields, photo and signature onto a 1016 × 648 card image at 300 dpi.
//
// A template is a JSON document (see DemoTemplateJSON for a full example):
//
//	{
//	  "version": 1,
//	  "id": "ektp-demo-v1",
//	  "background": {"gradient": {"from": "#dff0fb", "to": "#e3f5df", "direction": "diagonal"}},
//	  "elements": [
//	    {"type": "text", "name": "nama", "layer": "k", "x": 40, "y": 200, "w": 500, "h": 40,
//	     "text": "{nama}", "size": 30, "weight": "bold"},
//	    {"type": "image", "name": "pasfoto", "source": "photo", "x": 760, "y": 120, "w": 220, "h": 290},
//	    {"type": "qr", "name": "qr", "layer": "k", "text": "{nik}", "x": 60, "y": 480, "w": 140, "h": 140}
//	  ]
//	}
//
// Element types: rect, ellipse (shapes), text (static text with {field}
// placeholders bound to job fields), image (the job's photo or signature,
// scaled to fit its box) and qr. Every element has a box (x, y, w, h in
// pixels at 300 dpi, inside the card) and a layer: "color" (the YMC panels)
// or "k" (the black resin panel, crisp for text and codes).
//
// Templates are cached by the SHA-256 of their exact bytes (Hash), so Parse
// is strict: unknown keys, unknown fonts and elements outside the card are
// refused with an error naming the element.
package card

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
)

// The card in landscape at 300 dpi (ISO/IEC 7810 ID-1, 85.60 × 53.98 mm).
const (
	Width  = 1016
	Height = 648
	DPI    = 300
)

// FormatVersion is the template format this package reads.
const FormatVersion = 1

// Limits that keep a hostile or broken template from costing much.
const (
	maxTemplateBytes = 1 << 20
	maxElements      = 256
	maxNameLen       = 64
	maxTextLen       = 500
)

// ErrInvalidTemplate is wrapped by every error Parse returns.
var ErrInvalidTemplate = errors.New("invalid card template")

// TemplateError says which element of a template is wrong and why.
type TemplateError struct {
	ID      string // template id, when known
	Element string // element name, or "" for the template itself
	Index   int    // element index (0-based), -1 for the template itself
	Err     error
}

func (e *TemplateError) Error() string {
	where := "card template"
	if e.ID != "" {
		where += fmt.Sprintf(" %q", e.ID)
	}
	switch {
	case e.Index >= 0 && e.Element != "":
		where += fmt.Sprintf(": element %q (#%d)", e.Element, e.Index)
	case e.Index >= 0:
		where += fmt.Sprintf(": element #%d", e.Index)
	}
	return where + ": " + e.Err.Error() + " — fix the template and publish it under a new id"
}

func (e *TemplateError) Unwrap() []error { return []error{ErrInvalidTemplate, e.Err} }

// Layer is the ribbon panel an element is printed with.
type Layer string

const (
	LayerColor Layer = "color" // dye-sublimation Y, M, C panels
	LayerK     Layer = "k"     // black resin panel
)

// Template is a parsed, validated card layout. It is immutable and safe for
// concurrent use by several renderers.
type Template struct {
	id        string
	hash      string
	bg        background
	elements  []element
	fields    []string // every job field the template reads, sorted, no duplicates
	required  []string
	usesBlack bool
	usesPhoto bool
	usesSign  bool
}

// ID is the template's id as written in it (the job names it with its hash).
func (t *Template) ID() string { return t.id }

// Hash is the hex SHA-256 of the exact bytes the template was parsed from.
func (t *Template) Hash() string { return t.hash }

// Fields lists the job fields the template reads (sorted).
func (t *Template) Fields() []string { return append([]string(nil), t.fields...) }

// RequiredFields lists the job fields a job must carry (non-empty) to be
// rendered with this template (sorted).
func (t *Template) RequiredFields() []string { return append([]string(nil), t.required...) }

// UsesBlack says whether anything goes on the K panel (Render returns a nil
// black image when not).
func (t *Template) UsesBlack() bool { return t.usesBlack }

// Hash returns the hex SHA-256 of b: templates are cached and named in jobs
// by the hash of their exact bytes.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// The JSON shapes. Each element type has its own struct so that a key that
// does not belong to the type (a "font" on a rect) is refused as unknown.
type templateJSON struct {
	Version     int               `json:"version"`
	ID          string            `json:"id"`
	Description string            `json:"description"`
	Background  *backgroundJSON   `json:"background"`
	Elements    []json.RawMessage `json:"elements"`
}

type backgroundJSON struct {
	Color    string        `json:"color"`
	Gradient *gradientJSON `json:"gradient"`
}

type gradientJSON struct {
	From      string `json:"from"`
	To        string `json:"to"`
	Direction string `json:"direction"` // horizontal, vertical, diagonal
}

type boxJSON struct {
	Type  string   `json:"type"`
	Name  string   `json:"name"`
	Layer string   `json:"layer"`
	X     *float64 `json:"x"`
	Y     *float64 `json:"y"`
	W     *float64 `json:"w"`
	H     *float64 `json:"h"`
}

type shapeJSON struct {
	boxJSON
	Fill        string  `json:"fill"`
	Stroke      string  `json:"stroke"`
	StrokeWidth float64 `json:"stroke_width"`
	Radius      float64 `json:"radius"` // rect only
}

type textJSON struct {
	boxJSON
	Text     string  `json:"text"`
	Font     string  `json:"font"`
	Weight   string  `json:"weight"`
	Size     float64 `json:"size"`
	MinSize  float64 `json:"min_size"`
	Color    string  `json:"color"`
	Align    string  `json:"align"`
	Fit      string  `json:"fit"`
	MaxLines int     `json:"max_lines"`
	Optional bool    `json:"optional"`
}

type imageJSON struct {
	boxJSON
	Source      string  `json:"source"`
	Fill        string  `json:"fill"`
	Stroke      string  `json:"stroke"`
	StrokeWidth float64 `json:"stroke_width"`
	Optional    bool    `json:"optional"`
}

type qrJSON struct {
	boxJSON
	Text     string `json:"text"`
	EC       string `json:"ec"`
	Quiet    *int   `json:"quiet"`
	Color    string `json:"color"`
	Optional bool   `json:"optional"`
}

// Parsed forms.
type background struct {
	from, to  color.NRGBA
	direction string // "" for a plain colour
}

type kind int

const (
	kindRect kind = iota
	kindEllipse
	kindText
	kindImage
	kindQR
)

type element struct {
	kind       kind
	name       string
	layer      Layer
	x, y, w, h float64

	// shapes and image boxes
	fill, stroke    color.NRGBA
	hasFill, hasStr bool
	strokeWidth     float64
	radius          float64

	// text and qr
	text     []segment
	optional bool

	// text
	font     fontID
	size     float64
	minSize  float64
	color    color.NRGBA
	align    string
	wrap     bool
	maxLines int

	// image
	source string // "photo" or "signature"

	// qr
	ec    byte // 'L', 'M', 'Q', 'H'
	quiet int
}

// segment is a piece of an element's text: a literal or a job field.
type segment struct {
	lit   string
	field string
}

var (
	fieldNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	idRE        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// Parse reads and validates a template. Errors wrap ErrInvalidTemplate and
// are *TemplateError naming the element at fault.
func Parse(b []byte) (*Template, error) {
	top := func(err error) error { return &TemplateError{Index: -1, Err: err} }
	if len(b) > maxTemplateBytes {
		return nil, top(fmt.Errorf("template is %d bytes, more than the %d allowed", len(b), maxTemplateBytes))
	}
	var tj templateJSON
	if err := decodeStrict(b, &tj); err != nil {
		return nil, top(err)
	}
	if tj.Version != FormatVersion {
		return nil, top(fmt.Errorf(`"version" is %d, this station reads version %d`, tj.Version, FormatVersion))
	}
	if !idRE.MatchString(tj.ID) {
		return nil, top(fmt.Errorf(`"id" %q must be 1–128 letters, digits, '.', '_' or '-'`, tj.ID))
	}
	t := &Template{id: tj.ID, hash: Hash(b)}
	withID := func(err error) error {
		var te *TemplateError
		if errors.As(err, &te) {
			te.ID = tj.ID
		}
		return err
	}
	bg, err := parseBackground(tj.Background)
	if err != nil {
		return nil, withID(top(err))
	}
	t.bg = bg
	if len(tj.Elements) == 0 {
		return nil, withID(top(errors.New(`"elements" is empty: a card needs at least one element`)))
	}
	if len(tj.Elements) > maxElements {
		return nil, withID(top(fmt.Errorf("%d elements, more than the %d allowed", len(tj.Elements), maxElements)))
	}
	names := map[string]int{}
	fields := map[string]bool{}
	required := map[string]bool{}
	for i, raw := range tj.Elements {
		el, err := parseElement(raw)
		if err != nil {
			return nil, withID(&TemplateError{Element: el.name, Index: i, Err: err})
		}
		if j, dup := names[el.name]; dup {
			return nil, withID(&TemplateError{Element: el.name, Index: i, Err: fmt.Errorf("name already used by element #%d", j)})
		}
		names[el.name] = i
		for _, s := range el.text {
			if s.field != "" {
				fields[s.field] = true
				if !el.optional {
					required[s.field] = true
				}
			}
		}
		if el.layer == LayerK {
			t.usesBlack = true
		}
		if el.kind == kindImage {
			if el.source == "photo" {
				t.usesPhoto = true
			} else {
				t.usesSign = true
			}
		}
		t.elements = append(t.elements, el)
	}
	t.fields = sortedKeys(fields)
	t.required = sortedKeys(required)
	return t, nil
}

// decodeStrict decodes one JSON value, refusing unknown keys and anything
// after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("not valid template JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("not valid template JSON: data after the end of the object")
	}
	return nil
}

func parseBackground(bj *backgroundJSON) (background, error) {
	if bj == nil {
		return background{from: white, to: white}, nil
	}
	switch {
	case bj.Color != "" && bj.Gradient != nil:
		return background{}, errors.New(`"background" has both "color" and "gradient": choose one`)
	case bj.Gradient != nil:
		from, err := parseColor(bj.Gradient.From)
		if err != nil {
			return background{}, fmt.Errorf(`"background.gradient.from": %w`, err)
		}
		to, err := parseColor(bj.Gradient.To)
		if err != nil {
			return background{}, fmt.Errorf(`"background.gradient.to": %w`, err)
		}
		d := bj.Gradient.Direction
		switch d {
		case "":
			d = "vertical"
		case "horizontal", "vertical", "diagonal":
		default:
			return background{}, fmt.Errorf(`"background.gradient.direction" %q: use horizontal, vertical or diagonal`, d)
		}
		return background{from: opaque(from), to: opaque(to), direction: d}, nil
	case bj.Color != "":
		c, err := parseColor(bj.Color)
		if err != nil {
			return background{}, fmt.Errorf(`"background.color": %w`, err)
		}
		return background{from: opaque(c), to: opaque(c)}, nil
	}
	return background{from: white, to: white}, nil
}

func parseElement(raw json.RawMessage) (element, error) {
	var probe struct {
		Type string `json:"type"`
		Name string `json:"name"`
	}
	// A lenient first look, only to learn the type and name for messages.
	if err := json.Unmarshal(raw, &probe); err != nil {
		return element{}, fmt.Errorf("not a JSON object with \"type\" and \"name\": %w", err)
	}
	el := element{name: probe.Name}
	if len(el.name) > maxNameLen {
		el.name = el.name[:maxNameLen] + "…" // keep error messages short
	}
	if !fieldNameRE.MatchString(probe.Name) {
		return el, fmt.Errorf(`"name" %q must be 1–64 lower-case letters, digits or '_', starting with a letter`, el.name)
	}
	var bj *boxJSON
	var err error
	switch probe.Type {
	case "rect", "ellipse":
		var sj shapeJSON
		if err = decodeStrict(raw, &sj); err != nil {
			return el, err
		}
		bj = &sj.boxJSON
		el.kind = kindRect
		if probe.Type == "ellipse" {
			el.kind = kindEllipse
			if sj.Radius != 0 {
				return el, errors.New(`"radius" is for rect only`)
			}
		}
		if err = el.parsePaint(sj.Fill, sj.Stroke, sj.StrokeWidth); err != nil {
			return el, err
		}
		if !el.hasFill && !el.hasStr {
			return el, errors.New(`a shape needs "fill" or "stroke"`)
		}
		if sj.Radius < 0 || sj.Radius > 300 || math.IsNaN(sj.Radius) {
			return el, fmt.Errorf(`"radius" %v must be 0–300`, sj.Radius)
		}
		el.radius = sj.Radius
	case "text":
		var tj textJSON
		if err = decodeStrict(raw, &tj); err != nil {
			return el, err
		}
		bj = &tj.boxJSON
		el.kind = kindText
		if err = el.parseText(&tj); err != nil {
			return el, err
		}
	case "image":
		var ij imageJSON
		if err = decodeStrict(raw, &ij); err != nil {
			return el, err
		}
		bj = &ij.boxJSON
		el.kind = kindImage
		switch ij.Source {
		case "photo", "signature":
			el.source = ij.Source
		default:
			return el, fmt.Errorf(`"source" %q: use "photo" or "signature"`, ij.Source)
		}
		el.optional = ij.Optional
		if err = el.parsePaint(ij.Fill, ij.Stroke, ij.StrokeWidth); err != nil {
			return el, err
		}
	case "qr":
		var qj qrJSON
		if err = decodeStrict(raw, &qj); err != nil {
			return el, err
		}
		bj = &qj.boxJSON
		el.kind = kindQR
		if err = el.parseQR(&qj); err != nil {
			return el, err
		}
	default:
		return el, fmt.Errorf(`"type" %q: use rect, ellipse, text, image or qr`, probe.Type)
	}
	if err := el.parseBox(bj); err != nil {
		return el, err
	}
	if el.layer == LayerK {
		if err := el.checkBlackOnly(); err != nil {
			return el, err
		}
	}
	if el.kind == kindText {
		// One line at the smallest size must fit the box height, else the
		// text could only be drawn cut off.
		if need := lineHeight(el.font, el.minSize); need > el.h {
			return el, fmt.Errorf("box height %v is less than one line at min_size %v (needs %.0f)", el.h, el.minSize, math.Ceil(need))
		}
		if !el.wrap {
			if need := lineHeight(el.font, el.size); need > el.h {
				return el, fmt.Errorf("box height %v is less than one line at size %v (needs %.0f): make the box taller or the size smaller", el.h, el.size, math.Ceil(need))
			}
		}
	}
	return el, nil
}

func (el *element) parseBox(bj *boxJSON) error {
	switch bj.Layer {
	case "", "color":
		el.layer = LayerColor
	case "k":
		el.layer = LayerK
	default:
		return fmt.Errorf(`"layer" %q: use "color" or "k"`, bj.Layer)
	}
	for _, c := range []struct {
		key string
		v   *float64
	}{{"x", bj.X}, {"y", bj.Y}, {"w", bj.W}, {"h", bj.H}} {
		if c.v == nil {
			return fmt.Errorf("%q is missing: every element needs a box x, y, w, h", c.key)
		}
		if math.IsNaN(*c.v) || math.IsInf(*c.v, 0) {
			return fmt.Errorf("%q is not a number", c.key)
		}
	}
	el.x, el.y, el.w, el.h = *bj.X, *bj.Y, *bj.W, *bj.H
	if el.w <= 0 || el.h <= 0 {
		return fmt.Errorf("box %v × %v: width and height must be positive", el.w, el.h)
	}
	if el.x < 0 || el.y < 0 || el.x+el.w > Width || el.y+el.h > Height {
		return fmt.Errorf("box x=%v y=%v w=%v h=%v reaches outside the card (%d × %d)", el.x, el.y, el.w, el.h, Width, Height)
	}
	return nil
}

func (el *element) parsePaint(fill, stroke string, width float64) error {
	var err error
	if fill != "" {
		if el.fill, err = parseColor(fill); err != nil {
			return fmt.Errorf(`"fill": %w`, err)
		}
		el.hasFill = true
	}
	if stroke != "" {
		if el.stroke, err = parseColor(stroke); err != nil {
			return fmt.Errorf(`"stroke": %w`, err)
		}
		el.hasStr = true
		if width == 0 {
			width = 2
		}
	}
	if math.IsNaN(width) || width < 0 || width > 50 {
		return fmt.Errorf(`"stroke_width" %v must be 0–50`, width)
	}
	if width != 0 && stroke == "" {
		return errors.New(`"stroke_width" without "stroke"`)
	}
	el.strokeWidth = width
	return nil
}

func (el *element) parseText(tj *textJSON) error {
	segs, err := parseSegments(tj.Text)
	if err != nil {
		return err
	}
	el.text = segs
	el.optional = tj.Optional
	if el.font, err = lookupFont(tj.Font, tj.Weight); err != nil {
		return err
	}
	if tj.Size < 6 || tj.Size > 300 || math.IsNaN(tj.Size) {
		return fmt.Errorf(`"size" %v must be 6–300 (pixels at 300 dpi; 30 ≈ 7 pt)`, tj.Size)
	}
	el.size = tj.Size
	el.minSize = tj.MinSize
	if el.minSize == 0 {
		el.minSize = math.Max(6, math.Round(tj.Size*0.6))
	}
	if el.minSize < 6 || el.minSize > el.size || math.IsNaN(el.minSize) {
		return fmt.Errorf(`"min_size" %v must be 6–%v (the size)`, tj.MinSize, tj.Size)
	}
	el.color = black
	if tj.Color != "" {
		if el.color, err = parseColor(tj.Color); err != nil {
			return fmt.Errorf(`"color": %w`, err)
		}
	}
	switch tj.Align {
	case "", "left":
		el.align = "left"
	case "center", "right":
		el.align = tj.Align
	default:
		return fmt.Errorf(`"align" %q: use left, center or right`, tj.Align)
	}
	switch tj.Fit {
	case "", "shrink":
		if tj.MaxLines != 0 {
			return errors.New(`"max_lines" needs "fit": "wrap"`)
		}
	case "wrap":
		el.wrap = true
		if tj.MaxLines < 0 || tj.MaxLines > 20 {
			return fmt.Errorf(`"max_lines" %d must be 0 (as many as fit) to 20`, tj.MaxLines)
		}
		el.maxLines = tj.MaxLines
	default:
		return fmt.Errorf(`"fit" %q: use "shrink" (one line, smaller until it fits) or "wrap"`, tj.Fit)
	}
	return nil
}

func (el *element) parseQR(qj *qrJSON) error {
	segs, err := parseSegments(qj.Text)
	if err != nil {
		return err
	}
	el.text = segs
	el.optional = qj.Optional
	switch qj.EC {
	case "":
		el.ec = 'M'
	case "L", "M", "Q", "H":
		el.ec = qj.EC[0]
	default:
		return fmt.Errorf(`"ec" %q: use L, M, Q or H`, qj.EC)
	}
	el.quiet = 4
	if qj.Quiet != nil {
		if *qj.Quiet < 1 || *qj.Quiet > 10 {
			return fmt.Errorf(`"quiet" %d must be 1–10 modules`, *qj.Quiet)
		}
		el.quiet = *qj.Quiet
	}
	el.color = black
	if qj.Color != "" {
		if el.color, err = parseColor(qj.Color); err != nil {
			return fmt.Errorf(`"color": %w`, err)
		}
		if el.color.A != 255 {
			return errors.New(`"color" of a QR code must be opaque`)
		}
	}
	return nil
}

// checkBlackOnly refuses colours on the K panel: resin prints black or
// nothing, so a template that asks for blue there is a mistake.
func (el *element) checkBlackOnly() error {
	isBlack := func(c color.NRGBA) bool { return c.R == 0 && c.G == 0 && c.B == 0 }
	switch el.kind {
	case kindText, kindQR:
		if !isBlack(el.color) {
			return fmt.Errorf(`on layer "k" but "color" is %s: the K panel prints black only`, formatColor(el.color))
		}
	case kindRect, kindEllipse, kindImage:
		if el.hasFill && !isBlack(el.fill) {
			return fmt.Errorf(`on layer "k" but "fill" is %s: the K panel prints black only`, formatColor(el.fill))
		}
		if el.hasStr && !isBlack(el.stroke) {
			return fmt.Errorf(`on layer "k" but "stroke" is %s: the K panel prints black only`, formatColor(el.stroke))
		}
	}
	return nil
}

// parseSegments splits "PROVINSI {provinsi}" into literals and fields.
func parseSegments(s string) ([]segment, error) {
	if s == "" {
		return nil, errors.New(`"text" is empty`)
	}
	if len(s) > maxTextLen {
		return nil, fmt.Errorf(`"text" is %d bytes, more than %d`, len(s), maxTextLen)
	}
	var segs []segment
	rest := s
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			segs = append(segs, segment{lit: rest})
			break
		}
		if rest[open] == '}' {
			return nil, fmt.Errorf(`"text" %q has a '}' without '{'`, s)
		}
		if open > 0 {
			segs = append(segs, segment{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf(`"text" %q has a '{' without '}'`, s)
		}
		name := rest[open+1 : open+end]
		if !fieldNameRE.MatchString(name) {
			return nil, fmt.Errorf(`"text" %q: {%s} is not a field name (lower-case letters, digits, '_')`, s, name)
		}
		segs = append(segs, segment{field: name})
		rest = rest[open+end+1:]
	}
	return segs, nil
}

var (
	white = color.NRGBA{255, 255, 255, 255}
	black = color.NRGBA{0, 0, 0, 255}
)

func opaque(c color.NRGBA) color.NRGBA { c.A = 255; return c }

// parseColor reads #RRGGBB or #RRGGBBAA into a non-premultiplied colour
// stored in color.NRGBA fields (premultiplied later, when painting).
func parseColor(s string) (color.NRGBA, error) {
	if (len(s) != 7 && len(s) != 9) || s[0] != '#' {
		return color.NRGBA{}, fmt.Errorf("colour %q: write #RRGGBB or #RRGGBBAA", s)
	}
	b, err := hex.DecodeString(s[1:])
	if err != nil {
		return color.NRGBA{}, fmt.Errorf("colour %q: write #RRGGBB or #RRGGBBAA", s)
	}
	c := color.NRGBA{b[0], b[1], b[2], 255}
	if len(b) == 4 {
		c.A = b[3]
	}
	return c, nil
}

func formatColor(c color.NRGBA) string {
	if c.A == 255 {
		return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B)
	}
	return fmt.Sprintf("#%02x%02x%02x%02x", c.R, c.G, c.B, c.A)
}

func sortedKeys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
