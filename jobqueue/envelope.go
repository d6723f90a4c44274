package jobqueue

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"printstation/card"
)

// Kind says whether a job is a first issue or an explicit reprint.
type Kind string

const (
	KindIssue   Kind = "issue"
	KindReprint Kind = "reprint"
)

// TemplateRef names a card template by id and by the SHA-256 of its exact bytes.
type TemplateRef struct {
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
}

// ChipFile is one elementary file to write to the card's chip.
type ChipFile struct {
	FID  string `json:"fid"`  // 4 hex digits
	Data []byte `json:"data"` // base64 in JSON
}

// Chip is the chip personalization carried by a job.
type Chip struct {
	AID   string     `json:"aid,omitempty"` // hex
	Files []ChipFile `json:"files"`
	Lock  bool       `json:"lock"`
}

// Payload is the signed content of a job envelope, as the centre writes it.
type Payload struct {
	Issuer    string            `json:"iss"`
	KeyID     string            `json:"kid"`
	Station   string            `json:"station"`
	JobID     string            `json:"job_id"`
	Batch     string            `json:"batch"`
	Kind      Kind              `json:"kind"`
	ReprintOf string            `json:"reprint_of,omitempty"`
	Recorded  time.Time         `json:"recorded"`
	IssuedAt  int64             `json:"iat"`
	NotBefore int64             `json:"nbf"`
	Expires   int64             `json:"exp"`
	Template  TemplateRef       `json:"template"`
	Fields    map[string]string `json:"fields"`
	Photo     []byte            `json:"photo"`     // base64 in JSON
	Signature []byte            `json:"signature"` // base64 in JSON
	Chip      Chip              `json:"chip"`
}

// Job is a verified job with its personal data, as the engine prints it.
type Job struct {
	Payload
	State State
}

// AIDBytes decodes the chip application id (nil when the job names none).
func (c Chip) AIDBytes() ([]byte, error) {
	if c.AID == "" {
		return nil, nil
	}
	return hex.DecodeString(c.AID)
}

// FIDValue decodes a chip file id.
func (f ChipFile) FIDValue() (uint16, error) {
	v, err := strconv.ParseUint(f.FID, 16, 16)
	if err != nil || len(f.FID) != 4 {
		return 0, fmt.Errorf("chip file id %q is not 4 hex digits", f.FID)
	}
	return uint16(v), nil
}

// Code classifies why a job was refused; the centre receives it with the reason.
type Code string

const (
	CodeTooLarge      Code = "too_large"
	CodeMalformed     Code = "malformed"
	CodeUnknownKey    Code = "unknown_key"
	CodeBadSignature  Code = "bad_signature"
	CodeWrongStation  Code = "wrong_station"
	CodeNotYetValid   Code = "not_yet_valid"
	CodeExpired       Code = "expired"
	CodeDuplicate     Code = "duplicate"
	CodeBadKind       Code = "bad_kind"
	CodePhotoTooLarge Code = "photo_too_large"
	CodeChipTooLarge  Code = "chip_too_large"
	CodeRevoked       Code = "revoked"
	// Jobs that are signed and valid but could never print: refused at
	// arrival, not left waiting for a person.
	CodeFieldTooLong     Code = "field_too_long"
	CodeImageTooLarge    Code = "image_too_large"
	CodeImageUndecodable Code = "image_undecodable"
	// The job's template could not be fetched or did not match its hash.
	CodeBadTemplate Code = "bad_template"
)

// Refusal is the error returned for a job that fails a check. The job never
// reaches a printer; the refusal is reported to the centre through the outbox.
type Refusal struct {
	JobID  string // empty when the envelope was too broken to name one
	Reason string // for people; never holds personal data
	Code   Code
}

func (r *Refusal) Error() string {
	id := r.JobID
	if id == "" {
		id = "(unknown id)"
	}
	return fmt.Sprintf("job %s refused (%s): %s", id, r.Code, r.Reason)
}

// ErrRefused matches any *Refusal with errors.Is.
var ErrRefused = errors.New("job refused")

func (r *Refusal) Is(target error) bool { return target == ErrRefused }

// Limits bound what a job may carry, so that a broken or hostile centre cannot
// fill the station's disk or memory.
type Limits struct {
	EnvelopeBytes int           // whole compact JWS
	PhotoBytes    int           // decoded photo
	SignatureImg  int           // decoded signature image
	ChipBytes     int           // sum of decoded chip files
	ClockSkew     time.Duration // allowance on nbf/exp
	Fields        int           // printed fields per job
	FieldBytes    int           // one printed field's text
	ImageSide     int           // photo and signature pixels per side
}

// DefaultLimits fit a job of a few tens of kilobytes with room to spare.
var DefaultLimits = Limits{
	EnvelopeBytes: 512 << 10,
	PhotoBytes:    128 << 10,
	SignatureImg:  64 << 10,
	ChipBytes:     32 << 10,
	ClockSkew:     5 * time.Minute,
	Fields:        64,
	FieldBytes:    card.MaxFieldLength,
	ImageSide:     card.MaxImageSide,
}

func (l Limits) withDefaults() Limits {
	if l.EnvelopeBytes <= 0 {
		l.EnvelopeBytes = DefaultLimits.EnvelopeBytes
	}
	if l.PhotoBytes <= 0 {
		l.PhotoBytes = DefaultLimits.PhotoBytes
	}
	if l.SignatureImg <= 0 {
		l.SignatureImg = DefaultLimits.SignatureImg
	}
	if l.ChipBytes <= 0 {
		l.ChipBytes = DefaultLimits.ChipBytes
	}
	if l.ClockSkew <= 0 {
		l.ClockSkew = DefaultLimits.ClockSkew
	}
	if l.Fields <= 0 {
		l.Fields = DefaultLimits.Fields
	}
	if l.FieldBytes <= 0 {
		l.FieldBytes = DefaultLimits.FieldBytes
	}
	if l.ImageSide <= 0 {
		l.ImageSide = DefaultLimits.ImageSide
	}
	return l
}

// Verifier checks envelopes against pinned issuer keys. It holds no state
// about which jobs were seen; the queue adds that check.
type Verifier struct {
	Station string
	Keys    map[string]ed25519.PublicKey // by kid; several for rotation
	Limits  Limits
	Now     func() time.Time
}

// signedButRefused reports whether the refusal came after the signature was
// checked, i.e. the centre really issued this job id.
type verified struct {
	payload   Payload
	raw       []byte // payload JSON exactly as signed
	signedOK  bool
	envelopeN int
}

// Verify parses and checks one compact JWS. On failure it returns a *Refusal.
func (v *Verifier) Verify(compact string) (*Payload, []byte, error) {
	vr, err := v.verify(compact)
	if err != nil {
		return nil, nil, err
	}
	return &vr.payload, vr.raw, nil
}

func (v *Verifier) verify(compact string) (vr verified, err error) {
	lim := v.Limits.withDefaults()
	vr.envelopeN = len(compact)
	refuse := func(code Code, format string, a ...any) (verified, error) {
		return vr, &Refusal{JobID: vr.payload.JobID, Code: code, Reason: fmt.Sprintf(format, a...)}
	}
	if len(compact) > lim.EnvelopeBytes {
		return refuse(CodeTooLarge, "envelope is %d bytes, more than the limit of %d", len(compact), lim.EnvelopeBytes)
	}
	compact = strings.TrimSpace(compact)
	jws, err := parseEnvelope(compact)
	if err != nil {
		vr.payload.JobID = peekJobID(compact)
		return refuse(CodeMalformed, "%v", err)
	}
	if len(jws.Signatures) != 1 {
		return refuse(CodeMalformed, "envelope has %d signatures, want 1", len(jws.Signatures))
	}
	kid := jws.Signatures[0].Header.KeyID
	// The unverified job id names the job only in the three refusals
	// below; a verified payload brings its own. Peeking decodes the
	// envelope once more, so it is done only when refusing.
	key, ok := v.Keys[kid]
	if !ok {
		vr.payload.JobID = peekJobID(compact)
		return refuse(CodeUnknownKey, "issuer key %q is not pinned on this station (update the issuer keys in the station config if the centre rotated keys)", kid)
	}
	raw, err := jws.Verify(key)
	if err != nil {
		vr.payload.JobID = peekJobID(compact)
		return refuse(CodeBadSignature, "signature does not verify with issuer key %q", kid)
	}
	vr.raw = raw
	var p Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		vr.payload.JobID = peekJobID(compact)
		return refuse(CodeMalformed, "payload is not the job JSON: %v", scrubJSONErr(err))
	}
	p.Recorded = p.Recorded.UTC()
	vr.payload = p
	vr.signedOK = true
	if p.JobID == "" || len(p.JobID) > 128 {
		return refuse(CodeMalformed, "job_id is missing or longer than 128 characters")
	}
	if p.Batch == "" || len(p.Batch) > 128 {
		return refuse(CodeMalformed, "batch is missing or longer than 128 characters")
	}
	if p.KeyID != kid {
		return refuse(CodeMalformed, "payload kid %q differs from the header kid %q", p.KeyID, kid)
	}
	if p.Station != v.Station {
		return refuse(CodeWrongStation, "job is for station %q, this is station %q", p.Station, v.Station)
	}
	switch p.Kind {
	case KindIssue:
		if p.ReprintOf != "" {
			return refuse(CodeBadKind, "an issue job must not name reprint_of; a reprint must be kind \"reprint\"")
		}
	case KindReprint:
		if p.ReprintOf == "" || p.ReprintOf == p.JobID {
			return refuse(CodeBadKind, "a reprint must name the earlier job in reprint_of")
		}
	default:
		return refuse(CodeBadKind, "kind %q is neither \"issue\" nor \"reprint\"", p.Kind)
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now()
	skew := lim.ClockSkew
	if p.NotBefore == 0 || p.Expires == 0 || p.Expires <= p.NotBefore {
		return refuse(CodeMalformed, "validity window nbf=%d exp=%d is missing or empty", p.NotBefore, p.Expires)
	}
	if t.Add(skew).Before(time.Unix(p.NotBefore, 0)) {
		return refuse(CodeNotYetValid, "job is valid from %s, station clock says %s (check the station clock)", time.Unix(p.NotBefore, 0).UTC().Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	if !t.Add(-skew).Before(time.Unix(p.Expires, 0)) {
		return refuse(CodeExpired, "job expired at %s", time.Unix(p.Expires, 0).UTC().Format(time.RFC3339))
	}
	if p.Recorded.IsZero() {
		return refuse(CodeMalformed, "recording date is missing")
	}
	if p.Template.ID == "" || len(p.Template.SHA256) != 64 {
		return refuse(CodeMalformed, "template id or sha256 is missing")
	}
	if _, err := hex.DecodeString(p.Template.SHA256); err != nil {
		return refuse(CodeMalformed, "template sha256 is not hex")
	}
	if len(p.Fields) == 0 {
		return refuse(CodeMalformed, "job has no printed fields")
	}
	if len(p.Photo) == 0 {
		return refuse(CodeMalformed, "job has no photo")
	}
	if len(p.Photo) > lim.PhotoBytes {
		return refuse(CodePhotoTooLarge, "photo is %d bytes, more than the limit of %d", len(p.Photo), lim.PhotoBytes)
	}
	if len(p.Signature) > lim.SignatureImg {
		return refuse(CodePhotoTooLarge, "signature image is %d bytes, more than the limit of %d", len(p.Signature), lim.SignatureImg)
	}
	if code, why := printableContent(&p, lim); code != "" {
		return refuse(code, "%s", why)
	}
	if _, err := p.Chip.AIDBytes(); err != nil {
		return refuse(CodeMalformed, "chip aid is not hex")
	}
	chipN := 0
	seen := map[string]bool{}
	for _, f := range p.Chip.Files {
		if _, err := f.FIDValue(); err != nil {
			return refuse(CodeMalformed, "%v", err)
		}
		if seen[f.FID] {
			return refuse(CodeMalformed, "chip file %s appears twice", f.FID)
		}
		seen[f.FID] = true
		chipN += len(f.Data)
	}
	if chipN > lim.ChipBytes {
		return refuse(CodeChipTooLarge, "chip data is %d bytes, more than the limit of %d", chipN, lim.ChipBytes)
	}
	return vr, nil
}

// A job envelope is an EdDSA JWS in one of two forms:
//
//   - the flattened JSON serialization with an unencoded payload (RFC 7515
//     §7.2.2 with RFC 7797: protected header "b64": false, "crit": ["b64"]),
//     {"protected": "…", "payload": "<the payload JSON>", "signature": "…"},
//     what the centre sends: the photo, signature image and chip data are
//     base64 once, inside the JSON, and not base64url again around it;
//   - the compact serialization (RFC 7515 §7.1), still accepted.
//
// The JSON form is checked strictly: those three members and nothing else,
// and a header that says the payload is unencoded.
type flatJWS struct {
	Protected string `json:"protected"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

func parseEnvelope(env string) (*jose.JSONWebSignature, error) {
	algs := []jose.SignatureAlgorithm{jose.EdDSA}
	if !strings.HasPrefix(env, "{") {
		jws, err := jose.ParseSignedCompact(env, algs)
		if err != nil {
			return nil, fmt.Errorf("not a compact EdDSA JWS: %w", err)
		}
		return jws, nil
	}
	f, err := decodeFlat(env)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseDetached(f.Protected+".."+f.Signature, []byte(f.Payload), algs)
	if err != nil {
		return nil, fmt.Errorf("not an EdDSA JWS with an unencoded payload: %w", err)
	}
	if len(jws.Signatures) == 1 {
		if b64, ok := jws.Signatures[0].Protected.ExtraHeaders["b64"]; !ok || b64 != false {
			return nil, errors.New(`JWS in JSON form without "b64": false in its protected header: the payload must be unencoded (RFC 7797)`)
		}
	}
	return jws, nil
}

func decodeFlat(env string) (flatJWS, error) {
	var f flatJWS
	dec := json.NewDecoder(strings.NewReader(env))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("not a JWS in flattened JSON form: %s", scrubJSONErr(err))
	}
	if dec.More() {
		return f, errors.New("not a JWS in flattened JSON form: data after the object")
	}
	if f.Protected == "" || f.Signature == "" || f.Payload == "" {
		return f, errors.New("JWS in JSON form without protected header, payload or signature")
	}
	return f, nil
}

// peekJobID reads job_id from an unverified payload, only to name the job in
// a refusal report. It never trusts anything else there. It scans for the
// top-level "job_id" member itself instead of decoding the whole payload, so
// a payload that is too deep, too odd or wrongly typed elsewhere (which is
// why it is refused) still names its job.
func peekJobID(compact string) string {
	var b []byte
	if strings.HasPrefix(compact, "{") {
		f, err := decodeFlat(compact)
		if err != nil {
			return ""
		}
		b = []byte(f.Payload)
	} else {
		parts := strings.Split(compact, ".")
		if len(parts) != 3 || len(parts[1]) > 1<<20 {
			return ""
		}
		var err error
		if b, err = base64.RawURLEncoding.DecodeString(parts[1]); err != nil {
			return ""
		}
	}
	id := topLevelString(b, "job_id")
	if len(id) > 128 || !printable(id) {
		return ""
	}
	return id
}

// topLevelString returns the string value of member name of the JSON object
// in b, looking only at depth 1; "" when absent or not a plain string. It
// keeps no stack, so nesting depth costs nothing.
func topLevelString(b []byte, name string) string {
	depth := 0
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; c {
		case '{':
			depth++
			expectKey = depth == 1
		case '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			expectKey = depth == 1
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(b) {
				return ""
			}
			str := b[i+1 : j]
			i = j
			if depth != 1 || !expectKey {
				continue
			}
			expectKey = false
			if string(str) != name {
				continue
			}
			k := i + 1
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r' || b[k] == ':') {
				k++
			}
			if k >= len(b) || b[k] != '"' {
				return ""
			}
			var v string
			end := k + 1
			for end < len(b) && b[end] != '"' {
				if b[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(b) || json.Unmarshal(b[k:end+1], &v) != nil {
				return ""
			}
			return v
		}
	}
	return ""
}

// printableContent refuses, at arrival, a signed job that no printer could
// ever print: a field longer than a card field can be, or a photo or
// signature image that is too large in pixels or does not decode. These
// would otherwise wait in the queue until a person looked at them.
func printableContent(p *Payload, lim Limits) (Code, string) {
	if len(p.Fields) > lim.Fields {
		return CodeFieldTooLong, fmt.Sprintf("job has %d printed fields, at most %d", len(p.Fields), lim.Fields)
	}
	for _, k := range sortedFieldNames(p.Fields) {
		v := p.Fields[k]
		if len(k) > 64 || !printable(k) {
			return CodeMalformed, "a printed field name is longer than 64 bytes or has control characters"
		}
		// The field's name is said; its value (personal data) never.
		if len(v) > lim.FieldBytes {
			return CodeFieldTooLong, fmt.Sprintf("field %q is %d bytes, at most %d fit on a card", k, len(v), lim.FieldBytes)
		}
		if !utf8.ValidString(v) {
			return CodeMalformed, fmt.Sprintf("field %q is not valid UTF-8", k)
		}
	}
	for _, im := range []struct {
		name     string
		b        []byte
		optional bool
	}{{"photo", p.Photo, false}, {"signature", p.Signature, true}} {
		if len(im.b) == 0 && im.optional {
			continue
		}
		// The header alone first (card.DecodeImageConfig: PNG, JPEG or
		// WebP), so that a few bytes declaring a huge image are refused
		// before anything is decoded.
		cfg, _, err := card.DecodeImageConfig(im.b)
		if err != nil {
			return CodeImageUndecodable, fmt.Sprintf("%s is not a readable %s image", im.name, card.ImageFormats)
		}
		if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width > lim.ImageSide || cfg.Height > lim.ImageSide {
			return CodeImageTooLarge, fmt.Sprintf("%s is %d × %d pixels, at most %d a side", im.name, cfg.Width, cfg.Height, lim.ImageSide)
		}
		// The header can be fine and the data cut short: decode it whole
		// (bounded by the side limit just checked).
		if _, err := card.DecodeImage(im.b); err != nil {
			return CodeImageUndecodable, fmt.Sprintf("%s image data is damaged or cut short", im.name)
		}
	}
	return "", ""
}

func sortedFieldNames(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// scrubJSONErr keeps the JSON error's shape but not values that could be
// personal data (a field's content quoted in a type error).
func scrubJSONErr(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field %q has the wrong type (%s, want %s)", te.Field, te.Value, te.Type)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("JSON syntax error at byte %d", se.Offset)
	}
	return "invalid JSON"
}
