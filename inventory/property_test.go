package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// model is an independent, deliberately naive account of the blanks, used
// to predict which random operations the ledger must accept.
type model struct {
	received, storage, consumed, test, spoiled, destroyed, adjusted int64
	printers                                                        map[string]int64
}

// randomOp returns an event and whether the model says it is valid (and if
// so, applies it to the model).
func (m *model) randomOp(r *rand.Rand, i int) (Event, bool) {
	printers := []string{"p1", "p2", "p3"}
	p := printers[r.IntN(len(printers))]
	q := int64(r.IntN(14)) - 1 // sometimes 0 or -1
	people := []string{"ani", "budi", "citra", "dewi"}
	a, b := people[r.IntN(4)], people[r.IntN(4)]
	switch r.IntN(10) {
	case 0:
		e := Event{Kind: Received, Actor: "ani", Quantity: q * 5, DeliveryRef: fmt.Sprint("D", i)}
		if q <= 0 {
			return e, false
		}
		m.received += q * 5
		m.storage += q * 5
		return e, true
	case 1:
		e := Event{Kind: Loaded, Actor: "ani", Printer: p, Quantity: q}
		if q <= 0 || m.storage < q {
			return e, false
		}
		m.storage -= q
		m.printers[p] += q
		return e, true
	case 2:
		e := Event{Kind: Unloaded, Actor: "ani", Printer: p, Quantity: q}
		if q <= 0 || m.printers[p] < q {
			return e, false
		}
		m.printers[p] -= q
		m.storage += q
		return e, true
	case 3, 4:
		e := Event{Kind: Consumed, Actor: "engine", Printer: p, Job: fmt.Sprint("J", i), UID: "04A1B2C3"}
		if m.printers[p] < 1 {
			return e, false
		}
		m.printers[p]--
		m.consumed++
		return e, true
	case 5:
		if r.IntN(4) == 0 {
			e := Event{Kind: Spoiled, Actor: "ani", Reason: ReasonDamaged}
			if m.storage < 1 {
				return e, false
			}
			m.storage--
			m.spoiled++
			return e, true
		}
		e := Event{Kind: Spoiled, Actor: "engine", Printer: p, Job: fmt.Sprint("J", i), Reason: SpoilReasons[r.IntN(7)]}
		if m.printers[p] < 1 {
			return e, false
		}
		m.printers[p]--
		m.spoiled++
		return e, true
	case 6:
		e := Event{Kind: TestCard, Actor: "tech", Printer: p}
		if m.printers[p] < 1 {
			return e, false
		}
		m.printers[p]--
		m.test++
		return e, true
	case 7:
		e := Event{Kind: Destroyed, Actor: "ani", Quantity: q, Witnesses: []string{a, b}, RecordRef: fmt.Sprint("BA-", i)}
		if q <= 0 || a == b || m.spoiled < q {
			return e, false
		}
		m.spoiled -= q
		m.destroyed += q
		return e, true
	case 8:
		loc := Storage
		if r.IntN(2) == 0 {
			loc = InPrinter(p)
		}
		q = q - 6 // -7 … 6
		e := Event{Kind: Adjusted, Actor: "ani", Quantity: q, Location: loc, Reason: "recount", Approvers: []string{a, b}}
		var have int64
		if loc == Storage {
			have = m.storage
		} else {
			have = m.printers[p]
		}
		if q == 0 || a == b || have+q < 0 {
			return e, false
		}
		if loc == Storage {
			m.storage += q
		} else {
			m.printers[p] += q
		}
		m.adjusted += q
		return e, true
	default:
		return Event{Kind: CounterReading, Actor: "engine", Printer: p, CardsInserted: int64(i)}, true
	}
}

func TestRandomOperationsKeepTheInvariant(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			f := newFixture(t, func(o *Options) { o.CheckpointEvery = 7 })
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 42))
			m := &model{printers: map[string]int64{}}
			accepted, refused := 0, 0
			for i := 0; i < 250; i++ {
				e, valid := m.randomOp(r, i)
				_, err := f.l.Record(ctx, e)
				switch {
				case valid && err != nil:
					t.Fatalf("op %d %+v: refused a valid event: %v", i, e, err)
				case !valid && err == nil:
					t.Fatalf("op %d %+v: accepted an invalid event", i, e)
				case !valid:
					var ref *Refusal
					if !errors.As(err, &ref) || ref.Reason == "" {
						t.Fatalf("op %d: invalid event failed without a reason: %v", i, err)
					}
					refused++
				default:
					accepted++
				}
				s, err := f.l.Stock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var inPrinters int64
				for _, v := range s.Printers {
					inPrinters += v
				}
				if s.Received+s.Adjustments != s.Storage+inPrinters+s.Consumed+s.TestCards+s.SpoiledAwaiting+s.Destroyed {
					t.Fatalf("op %d: invariant broken: %+v", i, s)
				}
				if s.Storage != m.storage || s.Consumed != m.consumed || s.SpoiledAwaiting != m.spoiled || s.Destroyed != m.destroyed || s.Adjustments != m.adjusted {
					t.Fatalf("op %d: ledger %+v, model %+v", i, s, *m)
				}
				for p, v := range m.printers {
					if s.Printers[p] != v {
						t.Fatalf("op %d: printer %s: ledger %d, model %d", i, p, s.Printers[p], v)
					}
				}
			}
			if accepted < 50 || refused < 20 {
				t.Errorf("generator too lopsided to test much: %d accepted, %d refused", accepted, refused)
			}
			rep, err := Verify(ctx, f.db, VerifyOptions{Keys: nil})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.OK() || rep.Events != int64(accepted) {
				t.Errorf("verify after %d events: %d events, problems %v", accepted, rep.Events, rep.Problems)
			}
			p, err := Summarize(ctx, f.db, time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Fatal(err)
			}
			if p.Storage.Closing != m.storage || p.Consumed != m.consumed || p.Destroyed != m.destroyed {
				t.Errorf("summary closing %+v disagrees with model %+v", p.Closing, *m)
			}
		})
	}
}
