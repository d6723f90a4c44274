package inventory

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// The fast path of reading an event's canonical bytes, for audit verify
// over a million events: a small parser that understands only the shape
// encodeEntry writes, and an encoder that writes the same bytes as
// encodeEntry (encoding/json) without reflection. Bytes are accepted only
// when the parsed values encode back to exactly those bytes; anything else
// (an unknown field, an odd number, an escape the encoder never writes)
// goes to the general path, ParseEntry, which says what is wrong with it.
// Since the canonical encoding is one-to-one on valid text, bytes the fast
// path accepts decode to the values ParseEntry would return (tests:
// FuzzFastEntry, TestAppendWireIsEncodeEntry).

// fastEntry is one parsed entry; At stays text (verify compares it with the
// at column and never needs the time itself).
type fastEntry struct {
	Station string
	Seq     int64
	At      string
	Event
}

// fastState is one parser's reusable memory: the re-encoding buffer and
// the texts that repeat from event to event (station, kinds, actors,
// printers), kept once instead of once per event.
type fastState struct {
	scratch []byte
	intern  map[string]string
}

// parseFast parses data in canonical form. ok is false whenever the bytes
// are not exactly the canonical encoding of what was read; st.scratch then
// holds the re-encoding.
func parseFast(data []byte, st *fastState) (e fastEntry, ok bool) {
	if st.intern == nil {
		st.intern = map[string]string{}
	}
	p := fastParser{b: data, intern: st.intern}
	if !p.lit(`{"v":1`) {
		return e, false
	}
	for !p.done() {
		if p.peek() == '}' {
			p.i++
			break
		}
		if !p.lit(`,"`) {
			return e, false
		}
		j := p.i
		for j < len(p.b) && p.b[j] != '"' {
			j++
		}
		if j+1 >= len(p.b) || p.b[j+1] != ':' {
			return e, false
		}
		key := data[p.i:j]
		p.i = j + 2
		if !p.field(&e, key) {
			return e, false
		}
	}
	if p.err || p.i != len(data) || !validAt(e.At) {
		return e, false
	}
	st.scratch = appendWire(st.scratch[:0], e.Station, e.Seq, e.At, &e.Event)
	return e, string(st.scratch) == string(data)
}

type fastParser struct {
	b      []byte
	i      int
	err    bool
	intern map[string]string
}

func (p *fastParser) done() bool { return p.err || p.i >= len(p.b) }

func (p *fastParser) peek() byte {
	if p.i < len(p.b) {
		return p.b[p.i]
	}
	return 0
}

func (p *fastParser) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

func (p *fastParser) field(e *fastEntry, key []byte) bool {
	switch string(key) {
	case "station":
		e.Station = p.common()
	case "seq":
		e.Seq = p.int()
	case "at":
		e.At = p.str()
	case "kind":
		e.Kind = Kind(p.common())
	case "actor":
		e.Actor = p.common()
	case "printer":
		e.Printer = p.common()
	case "quantity":
		e.Quantity = p.int()
	case "delivery_ref":
		e.DeliveryRef = p.str()
	case "serial_first":
		e.SerialFirst = p.str()
	case "serial_last":
		e.SerialLast = p.str()
	case "job":
		e.Job = p.str()
	case "uid":
		e.UID = p.str()
	case "reason":
		e.Reason = p.common()
	case "uids":
		e.UIDs = p.strs()
	case "witnesses":
		e.Witnesses = p.strs()
	case "record_ref":
		e.RecordRef = p.str()
	case "approvers":
		e.Approvers = p.strs()
	case "location":
		e.Location = p.str()
	case "counted":
		e.Counted = p.counts()
	case "cards_inserted":
		e.CardsInserted = p.int()
	case "epoch":
		e.Epoch = p.int()
	case "prev_size":
		e.PrevSize = p.int()
	case "prev_root":
		e.PrevRoot = p.str()
	case "action":
		e.Action = p.str()
	case "subject":
		e.Subject = p.str()
	case "via":
		e.Via = p.str()
	case "roles":
		e.Roles = p.strs()
	default:
		return false
	}
	return !p.err
}

// common reads a string that repeats across events, keeping one copy.
func (p *fastParser) common() string {
	start := p.i
	s := p.str()
	if p.err || p.intern == nil {
		return s
	}
	raw := p.b[start:p.i]
	if v, ok := p.intern[string(raw)]; ok {
		return v
	}
	if len(p.intern) < 4096 {
		p.intern[string(raw)] = s
	}
	return s
}

// str reads a JSON string. Only the escapes encoding/json writes are
// decoded; text must be valid UTF-8.
func (p *fastParser) str() string {
	if p.peek() != '"' {
		p.err = true
		return ""
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		if c == '"' {
			s := p.b[start:p.i]
			p.i++
			if !utf8.Valid(s) {
				p.err = true
				return ""
			}
			return string(s)
		}
		if c == '\\' || c < 0x20 {
			return p.strEscaped(start)
		}
		p.i++
	}
	p.err = true
	return ""
}

func (p *fastParser) strEscaped(start int) string {
	buf := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			if !utf8.Valid(buf) {
				p.err = true
				return ""
			}
			return string(buf)
		case c < 0x20:
			p.err = true
			return ""
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			p.err = true
			return ""
		}
		switch p.b[p.i+1] {
		case '"', '\\':
			buf = append(buf, p.b[p.i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if p.i+6 > len(p.b) {
				p.err = true
				return ""
			}
			v, err := strconv.ParseUint(string(p.b[p.i+2:p.i+6]), 16, 16)
			if err != nil || (v >= 0xd800 && v < 0xe000) {
				p.err = true // surrogates: the general path decides
				return ""
			}
			buf = utf8.AppendRune(buf, rune(v))
			p.i += 4
		default:
			p.err = true
			return ""
		}
		p.i += 2
	}
	p.err = true
	return ""
}

func (p *fastParser) int() int64 {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		p.i++
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 64)
	if err != nil {
		p.err = true
	}
	return v
}

func (p *fastParser) strs() []string {
	if !p.lit("[") {
		p.err = true
		return nil
	}
	var out []string
	for !p.done() {
		out = append(out, p.str())
		if p.lit("]") {
			return out
		}
		if !p.lit(",") {
			p.err = true
		}
	}
	p.err = true
	return nil
}

func (p *fastParser) counts() map[string]int64 {
	if !p.lit("{") {
		p.err = true
		return nil
	}
	out := map[string]int64{}
	for !p.done() {
		k := p.str()
		if !p.lit(":") {
			p.err = true
			return nil
		}
		out[k] = p.int()
		if p.lit("}") {
			return out
		}
		if !p.lit(",") {
			p.err = true
		}
	}
	p.err = true
	return nil
}

// appendWire writes the bytes encodeEntry writes for an entry whose time is
// already formatted (formatTime).
func appendWire(b []byte, station string, seq int64, at string, e *Event) []byte {
	b = append(b, `{"v":1,"station":`...)
	b = appendJSONString(b, station)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `,"at":`...)
	b = appendJSONString(b, at)
	b = append(b, `,"kind":`...)
	b = appendJSONString(b, string(e.Kind))
	b = append(b, `,"actor":`...)
	b = appendJSONString(b, e.Actor)
	b = optString(b, `,"printer":`, e.Printer)
	b = optInt(b, `,"quantity":`, e.Quantity)
	b = optString(b, `,"delivery_ref":`, e.DeliveryRef)
	b = optString(b, `,"serial_first":`, e.SerialFirst)
	b = optString(b, `,"serial_last":`, e.SerialLast)
	b = optString(b, `,"job":`, e.Job)
	b = optString(b, `,"uid":`, e.UID)
	b = optString(b, `,"reason":`, e.Reason)
	b = optStrings(b, `,"uids":`, e.UIDs)
	b = optStrings(b, `,"witnesses":`, e.Witnesses)
	b = optString(b, `,"record_ref":`, e.RecordRef)
	b = optStrings(b, `,"approvers":`, e.Approvers)
	b = optString(b, `,"location":`, e.Location)
	if len(e.Counted) > 0 {
		b = append(b, `,"counted":{`...)
		keys := make([]string, 0, len(e.Counted))
		for k := range e.Counted {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, e.Counted[k], 10)
		}
		b = append(b, '}')
	}
	b = optInt(b, `,"cards_inserted":`, e.CardsInserted)
	b = optInt(b, `,"epoch":`, e.Epoch)
	b = optInt(b, `,"prev_size":`, e.PrevSize)
	b = optString(b, `,"prev_root":`, e.PrevRoot)
	b = optString(b, `,"action":`, e.Action)
	b = optString(b, `,"subject":`, e.Subject)
	b = optString(b, `,"via":`, e.Via)
	b = optStrings(b, `,"roles":`, e.Roles)
	return append(b, '}')
}

func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendJSONString(append(b, key...), s)
}

func optInt(b []byte, key string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, key...), v, 10)
}

func optStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = append(append(b, key...), '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendJSONString escapes as encoding/json does with SetEscapeHTML(false):
// quote and backslash, the short escapes \b \f \n \r \t, other control
// characters as \u00XX, invalid UTF-8 as \ufffd, and U+2028, U+2029.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// validAt reports whether s is a time as formatTime writes it, i.e.
// time.Parse(timeFormat, s) succeeds and formats back to s (test:
// TestValidAtIsTimeParse).
func validAt(s string) bool {
	// 2006-01-02T15:04:05.000000000Z
	if len(s) != len(timeFormat) || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != '.' || s[29] != 'Z' {
		return false
	}
	num := func(i, j int) int {
		n := 0
		for k := i; k < j; k++ {
			c := s[k]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	year, month, day := num(0, 4), num(5, 7), num(8, 10)
	hour, minute, sec, frac := num(11, 13), num(14, 16), num(17, 19), num(20, 29)
	if year < 0 || frac < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || sec < 0 || sec > 59 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month-1]
	if month == 2 && year%4 == 0 && (year%100 != 0 || year%400 == 0) {
		days = 29
	}
	return day <= days
}
