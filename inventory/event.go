package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
)

// Kind names what happened to blanks. The values are part of the ledger's
// canonical bytes: never rename one.
type Kind string

// Event kinds.
const (
	Received       Kind = "received"        // a delivery arrived in storage
	Loaded         Kind = "loaded"          // storage → printer feeder
	Unloaded       Kind = "unloaded"        // printer feeder → storage
	Consumed       Kind = "consumed"        // a card was issued for a job
	Spoiled        Kind = "spoiled"         // a blank was spoiled; it awaits destruction
	TestCard       Kind = "test_card"       // a blank used for a printer test
	Destroyed      Kind = "destroyed"       // spoiled blanks destroyed before two witnesses
	Adjusted       Kind = "adjusted"        // a correction approved by two people
	ShiftClosed    Kind = "shift_closed"    // counted quantities at the end of a shift
	CounterReading Kind = "counter_reading" // a printer's hardware "cards inserted" counter
	// Enrolled opens an enrolment epoch with the centre: the first start of
	// a station, or an admin's explicit re-enrolment after the database was
	// lost or replaced. It names what the centre had witnessed before.
	Enrolled Kind = "enrolled"
)

var kinds = map[Kind]bool{Received: true, Loaded: true, Unloaded: true, Consumed: true, Spoiled: true,
	TestCard: true, Destroyed: true, Adjusted: true, ShiftClosed: true, CounterReading: true, Enrolled: true}

// Spoil reason codes. The set is closed so that reports can group by reason.
const (
	ReasonChipWrite        = "chip_write"        // writing the chip failed
	ReasonChipVerify       = "chip_verify"       // read-back differed from what was written
	ReasonPrint            = "print"             // print defect
	ReasonJam              = "jam"               // card jammed in the printer
	ReasonMisfeed          = "misfeed"           // two cards fed, or fed crooked
	ReasonOperator         = "operator"          // an operator rejected the card
	ReasonCrashUnconfirmed = "crash_unconfirmed" // fed before a crash and not confirmed afterwards
	ReasonDamaged          = "damaged"           // found damaged (e.g. in storage)
	ReasonTest             = "test"              // spoiled during a printer test (no job)
	// The desk encoder flow (a print queue and a reader on the desk):
	ReasonDeskNotPrinted = "desk_not_printed" // chip written at the desk, face never printed
	ReasonWrongChip      = "wrong_chip"       // the printed card's chip is not the one written for the job
	ReasonNotTappedBack  = "not_tapped_back"  // printed, but never shown to the desk reader again
)

// SpoilReasons lists every accepted spoil reason code.
var SpoilReasons = []string{ReasonChipWrite, ReasonChipVerify, ReasonPrint, ReasonJam, ReasonMisfeed,
	ReasonOperator, ReasonCrashUnconfirmed, ReasonDamaged, ReasonTest, ReasonDeskNotPrinted, ReasonWrongChip, ReasonNotTappedBack}

// MaxQuantity bounds one event's quantity whatever the configuration says.
const MaxQuantity = 1_000_000_000

// UIDUnknown is what the ledger records when a chip's UID could not be read:
// the ledger says so explicitly instead of leaving a blank.
const UIDUnknown = "unknown"

// Storage is the location name of the stock room; a printer's feeder is
// InPrinter(name).
const Storage = "storage"

// InPrinter is the location name of a printer's feeder, as used in
// Event.Location (adjustments) and Event.Counted (shift close).
func InPrinter(name string) string { return "printer:" + name }

// Event is one thing that happened to blank cards. Which fields matter
// depends on Kind; a *Refusal says what is missing. Every event names its
// actor (for a shift close, the operator; the ledger adds the time).
type Event struct {
	Kind  Kind   `json:"kind"`
	Actor string `json:"actor"`

	Printer  string `json:"printer,omitempty"`  // loaded, unloaded, consumed, spoiled, test_card, counter_reading
	Quantity int64  `json:"quantity,omitempty"` // received, loaded, unloaded, destroyed (count), adjusted (signed)

	DeliveryRef string `json:"delivery_ref,omitempty"` // received
	SerialFirst string `json:"serial_first,omitempty"` // received, optional range
	SerialLast  string `json:"serial_last,omitempty"`

	Job    string `json:"job,omitempty"`    // consumed, spoiled
	UID    string `json:"uid,omitempty"`    // consumed, spoiled: hex, or UIDUnknown
	Reason string `json:"reason,omitempty"` // spoiled: a reason code; adjusted: free text

	UIDs      []string `json:"uids,omitempty"`       // destroyed (optional when a count is given)
	Witnesses []string `json:"witnesses,omitempty"`  // destroyed: two; shift_closed: one
	RecordRef string   `json:"record_ref,omitempty"` // destroyed: the destruction record (minutes) reference

	Approvers []string `json:"approvers,omitempty"` // adjusted: two different people
	Location  string   `json:"location,omitempty"`  // adjusted: Storage or InPrinter(name)

	Counted       map[string]int64 `json:"counted,omitempty"`        // shift_closed: location → counted quantity
	CardsInserted int64            `json:"cards_inserted,omitempty"` // counter_reading

	// enrolled: the epoch it opens, and the centre's last witnessed tree
	// of the epoch before (size 0 and no root for a first enrolment).
	// Reason (free text) says why for a re-enrolment.
	Epoch    int64  `json:"epoch,omitempty"`
	PrevSize int64  `json:"prev_size,omitempty"`
	PrevRoot string `json:"prev_root,omitempty"`

	// The people log's fields (people.go); empty on every blank event.
	Action  string   `json:"action,omitempty"`  // account_changed, action: what was done
	Subject string   `json:"subject,omitempty"` // the account or batch acted on
	Via     string   `json:"via,omitempty"`     // web, socket, host
	Roles   []string `json:"roles,omitempty"`   // signed_in, account_changed: the account's roles
}

// Entry is an event as the ledger stored it: its place in the tree, its time
// and the exact bytes that were hashed.
type Entry struct {
	Seq     int64
	Station string
	At      time.Time
	Event
	Data []byte // canonical bytes: the Merkle leaf
}

// wire is the canonical encoding. encoding/json writes struct fields in
// declaration order and map keys sorted, so the bytes are deterministic.
type wire struct {
	V       int    `json:"v"`
	Station string `json:"station"`
	Seq     int64  `json:"seq"`
	At      string `json:"at"`
	Event
}

const wireVersion = 1

// timeFormat has a fixed width so that the at column sorts as text.
const timeFormat = "2006-01-02T15:04:05.000000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func encodeEntry(e Entry) ([]byte, error) {
	w := wire{V: wireVersion, Station: e.Station, Seq: e.Seq, At: formatTime(e.At), Event: e.Event}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("inventory: encode event %d: %w", e.Seq, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ErrMalformedEntry is returned by ParseEntry for bytes that are not a
// canonical ledger entry.
var ErrMalformedEntry = errors.New("malformed ledger entry")

// ParseEntry decodes an entry's canonical bytes (as read back from a database
// an auditor was handed) and checks that they are exactly canonical, so that
// two different byte strings can never stand for the same event.
func ParseEntry(data []byte) (Entry, error) { return parseEntry(data, true) }

// parseEntry without the canonical check serves readers (summaries) that
// trust rows Verify checks.
func parseEntry(data []byte, canonical bool) (Entry, error) {
	if len(data) > 1<<20 {
		return Entry{}, fmt.Errorf("%w: %d bytes is more than any event needs", ErrMalformedEntry, len(data))
	}
	// Unknown fields are not refused here: the canonical re-encoding below
	// drops them, so bytes carrying one fail that comparison.
	// json v2 decodes several times faster than encoding/json, which
	// matters when an auditor verifies a million events; it is also
	// stricter (exact field names, no duplicate names, valid UTF-8).
	var w wire
	if err := jsonv2.Unmarshal(data, &w); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrMalformedEntry, err)
	}
	if w.V != wireVersion {
		return Entry{}, fmt.Errorf("%w: version %d, this program reads version %d", ErrMalformedEntry, w.V, wireVersion)
	}
	at, err := time.Parse(timeFormat, w.At)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: time %q: %v", ErrMalformedEntry, w.At, err)
	}
	e := Entry{Seq: w.Seq, Station: w.Station, At: at, Event: w.Event, Data: data}
	if !canonical {
		return e, nil
	}
	again, err := encodeEntry(e)
	if err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrMalformedEntry, err)
	}
	if !bytes.Equal(again, data) {
		return Entry{}, fmt.Errorf("%w: bytes are not in canonical form", ErrMalformedEntry)
	}
	return e, nil
}

// ErrRefused matches every *Refusal with errors.Is.
var ErrRefused = errors.New("inventory: event refused")

// Refusal says why the ledger would not accept an event. Nothing was written.
type Refusal struct {
	Kind   Kind
	Reason string
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("inventory: %s event refused: %s", r.Kind, r.Reason)
}

// Is makes errors.Is(err, ErrRefused) true for any refusal.
func (r *Refusal) Is(target error) bool { return target == ErrRefused }

func refuse(k Kind, format string, args ...any) *Refusal {
	return &Refusal{Kind: k, Reason: fmt.Sprintf(format, args...)}
}

// normalize puts an event in canonical form (UIDs upper-case hex, unknown
// UIDs explicit, destroyed quantity from the UID list) and checks everything
// that does not depend on the stock: required fields and dual control.
func normalize(e Event) (Event, error) {
	if !kinds[e.Kind] {
		return e, refuse(e.Kind, "unknown event kind %q", e.Kind)
	}
	r := func(format string, args ...any) error { return refuse(e.Kind, format, args...) }
	e.Actor = strings.TrimSpace(e.Actor)
	if e.Actor == "" {
		return e, r("no actor: every event must say who did it")
	}
	// Every text field, in this order (no slice built: audit verify
	// normalizes a million events).
	for _, group := range [...][]string{
		{e.Actor, e.Printer, e.DeliveryRef, e.SerialFirst, e.SerialLast, e.Job, e.Reason, e.RecordRef, e.Location},
		e.UIDs, e.Witnesses, e.Approvers, {e.Action, e.Subject, e.Via}, e.Roles} {
		for _, s := range group {
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\n\r") || len(s) > 256 {
				return e, r("field %q is not printable text of at most 256 bytes", s)
			}
		}
	}
	needPrinter := func() error {
		if e.Printer == "" {
			return r("no printer named")
		}
		return nil
	}
	needQty := func() error {
		if e.Quantity <= 0 {
			return r("quantity must be positive, got %d", e.Quantity)
		}
		return nil
	}
	if err := checkPeople(e); err != nil {
		return e, err
	}
	// No station ever holds a billion blanks; the bound keeps every sum
	// of quantities far from overflowing.
	if e.Quantity > MaxQuantity || e.Quantity < -MaxQuantity {
		return e, r("quantity %d is beyond any real stock (at most %d per event)", e.Quantity, int64(MaxQuantity))
	}
	// Fields that do not belong to a kind are refused rather than silently
	// stored: an auditor reading them would take them for facts.
	switch e.Kind {
	case Received:
		if err := needQty(); err != nil {
			return e, err
		}
		if e.DeliveryRef == "" {
			return e, r("no delivery reference")
		}
		if (e.SerialFirst == "") != (e.SerialLast == "") {
			return e, r("a serial range needs both its first and last serial")
		}
	case Loaded, Unloaded:
		if err := needPrinter(); err != nil {
			return e, err
		}
		if err := needQty(); err != nil {
			return e, err
		}
	case Consumed, Spoiled:
		if e.Kind == Consumed {
			if err := needPrinter(); err != nil {
				return e, err
			}
			if e.Job == "" {
				return e, r("no job: a consumed card is always issued for a job")
			}
			if e.Reason != "" {
				return e, r("a consumed card has no reason code")
			}
		} else {
			if !validReason(e.Reason) {
				return e, r("reason %q is not one of %s", e.Reason, strings.Join(SpoilReasons, ", "))
			}
			if e.Printer != "" && e.Job == "" && e.Reason != ReasonTest {
				return e, r("a blank spoiled in printer %s must name its job (or use reason %q for a test card)", e.Printer, ReasonTest)
			}
			if e.Printer == "" && e.Job != "" {
				return e, r("a blank spoiled for job %s must name the printer it was fed into", e.Job)
			}
		}
		if e.Quantity != 0 {
			return e, r("one event is one card: quantity must be empty")
		}
		uid, err := normalizeUID(e.UID)
		if err != nil {
			return e, r("%v", err)
		}
		e.UID = uid
	case TestCard:
		if err := needPrinter(); err != nil {
			return e, err
		}
		if e.Quantity != 0 {
			return e, r("one event is one card: quantity must be empty")
		}
	case Destroyed:
		if len(e.UIDs) > 0 {
			e.UIDs = append([]string(nil), e.UIDs...) // never rewrite the caller's slice
			seen := map[string]bool{}
			for i, u := range e.UIDs {
				n, err := normalizeUID(u)
				if err != nil || n == UIDUnknown {
					return e, r("destroyed card UID %q is not hex", u)
				}
				if seen[n] {
					return e, r("UID %s listed twice", n)
				}
				seen[n] = true
				e.UIDs[i] = n
			}
			if e.Quantity != 0 && e.Quantity != int64(len(e.UIDs)) {
				return e, r("quantity %d does not match the %d UIDs listed", e.Quantity, len(e.UIDs))
			}
			e.Quantity = int64(len(e.UIDs))
		}
		if err := needQty(); err != nil {
			return e, err
		}
		if err := twoPeople("witnesses", e.Witnesses); err != nil {
			return e, r("%v", err)
		}
		if e.RecordRef == "" {
			return e, r("no destruction record reference")
		}
	case Adjusted:
		if e.Quantity == 0 {
			return e, r("an adjustment must change the quantity")
		}
		if err := twoPeople("approvers", e.Approvers); err != nil {
			return e, r("%v", err)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return e, r("no reason given")
		}
		if _, ok := parseLocation(e.Location); !ok {
			return e, r("location %q is neither %q nor %q", e.Location, Storage, InPrinter("NAME"))
		}
	case ShiftClosed:
		if len(e.Witnesses) != 1 || strings.TrimSpace(e.Witnesses[0]) == "" {
			return e, r("a shift close needs exactly one witness")
		}
		if strings.EqualFold(strings.TrimSpace(e.Witnesses[0]), e.Actor) {
			return e, r("the witness must be someone other than the operator")
		}
		if len(e.Counted) == 0 {
			return e, r("no counted quantities")
		}
		for loc, n := range e.Counted {
			if _, ok := parseLocation(loc); !ok {
				return e, r("counted location %q is neither %q nor %q", loc, Storage, InPrinter("NAME"))
			}
			if n < 0 {
				return e, r("counted %d at %s: a count cannot be negative", n, loc)
			}
		}
	case Enrolled:
		if e.Epoch < 1 {
			return e, r("enrolment epoch %d: expected 1 or more", e.Epoch)
		}
		if e.Epoch > 1 && strings.TrimSpace(e.Reason) == "" {
			return e, r("a re-enrolment must give its reason")
		}
		if e.PrevSize < 0 || (e.PrevSize > 0) != (e.PrevRoot != "") {
			return e, r("previous witnessed size %d and root %q do not go together", e.PrevSize, e.PrevRoot)
		}
		if e.Quantity != 0 || e.Printer != "" || e.Job != "" {
			return e, r("an enrolment moves no blanks")
		}
	case CounterReading:
		if err := needPrinter(); err != nil {
			return e, err
		}
		if e.CardsInserted < 0 {
			return e, r("cards inserted counter %d is negative", e.CardsInserted)
		}
	}
	return e, nil
}

func validReason(s string) bool {
	for _, r := range SpoilReasons {
		if s == r {
			return true
		}
	}
	return false
}

func normalizeUID(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, UIDUnknown) {
		return UIDUnknown, nil
	}
	s = strings.ReplaceAll(s, ":", "")
	if !isHex(s) || len(s) < 8 || len(s) > 40 {
		return "", fmt.Errorf("chip UID %q is not 4 to 20 bytes of hex", s)
	}
	return strings.ToUpper(s), nil
}

// isHex is hex.DecodeString(s) == nil without decoding: an even number of
// hex digits.
func isHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// twoPeople enforces dual control: two named, different people.
func twoPeople(role string, people []string) error {
	if len(people) != 2 {
		return fmt.Errorf("dual control needs exactly two %s, got %d", role, len(people))
	}
	a, b := strings.TrimSpace(people[0]), strings.TrimSpace(people[1])
	if a == "" || b == "" {
		return fmt.Errorf("dual control: both %s must be named", role)
	}
	if strings.EqualFold(a, b) {
		return fmt.Errorf("dual control: the two %s must be different people (both are %q)", role, a)
	}
	return nil
}

// parseLocation returns the printer name ("" for storage).
func parseLocation(loc string) (printer string, ok bool) {
	if loc == Storage {
		return "", true
	}
	if p, found := strings.CutPrefix(loc, "printer:"); found && p != "" {
		return p, true
	}
	return "", false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
