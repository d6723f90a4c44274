package inventory

import (
	"strconv"
	"strings"
)

// Balance buckets. Storage and printers are physical locations; the others
// are where blanks end up. Together they make the invariant:
//
//	received + adjusted = storage + Σ printers + consumed + test + spoiled + destroyed
const (
	bReceived  = "received"
	bConsumed  = "consumed"
	bTest      = "test"
	bSpoiled   = "spoiled" // awaiting destruction
	bDestroyed = "destroyed"
	bAdjusted  = "adjusted"
)

// balances maps a bucket (Storage, InPrinter(p) or one of the b* names) to
// its quantity. The same code applies events when appending and when an
// auditor replays the ledger, so both agree on what "valid" means.
type balances map[string]int64

func (b balances) clone() balances {
	c := make(balances, len(b))
	for k, v := range b {
		c[k] = v
	}
	return c
}

// delta returns the changes an event makes, or a refusal if it would take a
// location below zero. The event must already be normalized.
func (b balances) delta(e Event) (map[string]int64, error) {
	d := map[string]int64{}
	move := func(from, to string, n int64) {
		d[from] -= n
		d[to] += n
	}
	switch e.Kind {
	case Received:
		d[bReceived] += e.Quantity
		d[Storage] += e.Quantity
	case Loaded:
		if have := b[Storage]; have < e.Quantity {
			return nil, refuse(e.Kind, "cannot load %d into printer %s: storage holds %d", e.Quantity, e.Printer, have)
		}
		move(Storage, InPrinter(e.Printer), e.Quantity)
	case Unloaded:
		if have := b[InPrinter(e.Printer)]; have < e.Quantity {
			return nil, refuse(e.Kind, "cannot unload %d from printer %s: it holds %d", e.Quantity, e.Printer, have)
		}
		move(InPrinter(e.Printer), Storage, e.Quantity)
	case Consumed, TestCard:
		to := bConsumed
		if e.Kind == TestCard {
			to = bTest
		}
		if have := b[InPrinter(e.Printer)]; have < 1 {
			return nil, refuse(e.Kind, "printer %s holds no blanks according to the ledger (load it first)", e.Printer)
		}
		move(InPrinter(e.Printer), to, 1)
	case Spoiled:
		from := Storage
		if e.Printer != "" {
			from = InPrinter(e.Printer)
		}
		if have := b[from]; have < 1 {
			return nil, refuse(e.Kind, "%s holds no blanks according to the ledger", describe(from))
		}
		move(from, bSpoiled, 1)
	case Destroyed:
		if have := b[bSpoiled]; have < e.Quantity {
			return nil, refuse(e.Kind, "cannot destroy %d: only %d spoiled blanks await destruction", e.Quantity, have)
		}
		move(bSpoiled, bDestroyed, e.Quantity)
	case Adjusted:
		if have := b[e.Location]; have+e.Quantity < 0 {
			return nil, refuse(e.Kind, "adjustment of %d would leave %s at %d", e.Quantity, describe(e.Location), have+e.Quantity)
		}
		d[e.Location] += e.Quantity
		d[bAdjusted] += e.Quantity
	case ShiftClosed, CounterReading, Enrolled:
		// Facts about the world, not stock movements.
	}
	for k, v := range d {
		if v == 0 {
			delete(d, k)
		}
	}
	return d, nil
}

// apply applies an event and checks the invariant afterwards.
func (b balances) apply(e Event) (map[string]int64, error) {
	d, err := b.delta(e)
	if err != nil {
		return nil, err
	}
	for k, v := range d {
		b[k] += v
	}
	if err := b.check(); err != nil {
		for k, v := range d {
			b[k] -= v
		}
		return nil, refuse(e.Kind, "%v", err)
	}
	return d, nil
}

type invariantError struct {
	lhs, rhs int64
	neg      string
}

func (e *invariantError) Error() string {
	if e.neg != "" {
		return "ledger invariant broken: " + e.neg + " is negative"
	}
	return "ledger invariant broken: received ± adjustments = " + strconv.FormatInt(e.lhs, 10) + " but the blanks accounted for add up to " + strconv.FormatInt(e.rhs, 10)
}

func (b balances) check() error {
	var rhs int64
	for k, v := range b {
		if v < 0 && k != bAdjusted {
			return &invariantError{neg: describe(k)}
		}
		if k == Storage || strings.HasPrefix(k, "printer:") || k == bConsumed || k == bTest || k == bSpoiled || k == bDestroyed {
			rhs += v
		}
	}
	if lhs := b[bReceived] + b[bAdjusted]; lhs != rhs {
		return &invariantError{lhs: lhs, rhs: rhs}
	}
	return nil
}

func describe(bucket string) string {
	if p, ok := strings.CutPrefix(bucket, "printer:"); ok {
		return "printer " + p
	}
	return bucket
}

// move applies, without apply's map of changes and full check, the events
// that move blanks between two places counted on the invariant's right side
// (a card fed, a load, an unload, a spoil) or move none: when the source
// holds enough, the invariant that held before still holds. It reports
// false and changes nothing for any other event or when the source is
// short; apply then decides and says why (test: TestMoveIsApply). keys
// caches InPrinter(p), so that a million replayed events do not build a
// million location names.
func (b balances) move(e *Event, keys map[string]string) bool {
	printer := func() string {
		k, ok := keys[e.Printer]
		if !ok {
			k = InPrinter(e.Printer)
			keys[e.Printer] = k
		}
		return k
	}
	var from, to string
	n := int64(1)
	switch e.Kind {
	case Consumed:
		from, to = printer(), bConsumed
	case TestCard:
		from, to = printer(), bTest
	case Spoiled:
		from, to = Storage, bSpoiled
		if e.Printer != "" {
			from = printer()
		}
	case Loaded:
		from, to, n = Storage, printer(), e.Quantity
	case Unloaded:
		from, to, n = printer(), Storage, e.Quantity
	case ShiftClosed, CounterReading, Enrolled:
		return true
	default:
		return false
	}
	if n <= 0 || b[from] < n || from == to {
		return false
	}
	b[from] -= n
	b[to] += n
	return true
}
