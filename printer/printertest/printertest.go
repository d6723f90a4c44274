// Package printertest provides a fake printer.Driver for the engine's unit
// tests: it records every call, keeps a plausible card position and counter,
// and can be told to fail a given call.
package printertest

import (
	"context"
	"fmt"
	"sync"

	"printstation/printer"
	"printstation/printer/raster"
)

// Call is one recorded driver call.
type Call struct {
	Op      string // "info", "status", "counters", "feed", "move", "print", "eject", "reject", "close"
	Station printer.Station
	Side    printer.Side
	Ribbon  string // for "print": the panels' ribbon
}

func (c Call) String() string {
	switch c.Op {
	case "move":
		return "move " + c.Station.String()
	case "print":
		return fmt.Sprintf("print %s %s", c.Side, c.Ribbon)
	}
	return c.Op
}

// Driver is a fake printer. Its zero value is not usable; use New.
type Driver struct {
	mu       sync.Mutex
	name     string
	calls    []Call
	fails    []failure
	info     printer.Info
	counters printer.Counters
	feeder   int
	pos      printer.Position
	closed   bool
}

type failure struct {
	op    string
	nth   int // fail the nth call of op (1-based); 0 = every call
	seen  int
	err   error
	after bool // the call takes effect, then the error is returned
}

// New returns a fake printer named name with feeder blanks in its feeder.
func New(name string, feeder int) *Driver {
	return &Driver{
		name:     name,
		feeder:   feeder,
		pos:      printer.PositionNone,
		info:     printer.Info{Driver: "fake", Addr: "fake:" + name, Model: "Fake", Serial: "FAKE-" + name, Firmware: "0"},
		counters: printer.Counters{RibbonLeft: -1},
	}
}

// FailOn makes the nth call (1-based; 0 = every call) of op return an
// *printer.Error of kind k, before the call has any effect.
func (d *Driver) FailOn(op string, nth int, k printer.Kind) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails = append(d.fails, failure{op: op, nth: nth, err: &printer.Error{Printer: d.name, Op: op, Kind: k}})
}

// FailAfter is FailOn, but the call takes effect first (the card moved, the
// blank was taken) and then reports the error, like a reply lost on the way.
func (d *Driver) FailAfter(op string, nth int, k printer.Kind) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails = append(d.fails, failure{op: op, nth: nth, err: &printer.Error{Printer: d.name, Op: op, Kind: k}, after: true})
}

// FailWith makes the nth call of op return err.
func (d *Driver) FailWith(op string, nth int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fails = append(d.fails, failure{op: op, nth: nth, err: err})
}

// Calls returns the calls recorded so far.
func (d *Driver) Calls() []Call {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]Call(nil), d.calls...)
}

// Ops returns the recorded calls as short strings ("feed", "move contactless", …).
func (d *Driver) Ops() []string {
	var out []string
	for _, c := range d.Calls() {
		out = append(out, c.String())
	}
	return out
}

// Position is where the fake's card is.
func (d *Driver) Position() printer.Position {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pos
}

// SetCounters sets the hardware counters (e.g. to simulate a card fed before a crash).
func (d *Driver) SetCounters(c printer.Counters) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counters = c
}

// LoadFeeder puts n more blanks in the feeder.
func (d *Driver) LoadFeeder(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.feeder += n
}

// call records c and returns the scripted error, if any, and whether the
// call should still take effect.
func (d *Driver) call(c Call) (err error, effect bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, c)
	if d.closed {
		return &printer.Error{Printer: d.name, Op: c.Op, Kind: printer.KindDisconnected, Detail: "driver closed"}, false
	}
	for i := range d.fails {
		f := &d.fails[i]
		if f.op != c.Op {
			continue
		}
		f.seen++
		if f.nth == 0 || f.nth == f.seen {
			return f.err, f.after
		}
	}
	return nil, true
}

func (d *Driver) Info(ctx context.Context) (printer.Info, error) {
	if err, _ := d.call(Call{Op: "info"}); err != nil {
		return printer.Info{}, err
	}
	return d.info, ctx.Err()
}

func (d *Driver) Status(ctx context.Context) (printer.Status, error) {
	if err, _ := d.call(Call{Op: "status"}); err != nil {
		return printer.Status{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	st := printer.Status{Card: d.pos, FeederEmpty: d.feeder == 0}
	st.Ready = !st.FeederEmpty
	if st.FeederEmpty {
		st.Problems = append(st.Problems, "feeder empty")
	}
	return st, nil
}

func (d *Driver) Counters(ctx context.Context) (printer.Counters, error) {
	if err, _ := d.call(Call{Op: "counters"}); err != nil {
		return printer.Counters{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.counters, nil
}

func (d *Driver) Feed(ctx context.Context) error {
	err, effect := d.call(Call{Op: "feed"})
	if effect {
		d.mu.Lock()
		switch {
		case d.pos != printer.PositionNone:
			if err == nil {
				err = &printer.Error{Printer: d.name, Op: "feed", Kind: printer.KindRefused, Position: d.pos, Detail: "a card is already in the printer"}
			}
		case d.feeder <= 0:
			if err == nil {
				err = &printer.Error{Printer: d.name, Op: "feed", Kind: printer.KindFeederEmpty, Position: printer.PositionNone}
			}
		default:
			d.feeder--
			d.counters.CardsInserted++
			d.pos = printer.PositionPrintHead
		}
		d.mu.Unlock()
	}
	return err
}

func (d *Driver) MoveTo(ctx context.Context, st printer.Station) error {
	err, effect := d.call(Call{Op: "move", Station: st})
	if effect {
		d.mu.Lock()
		if d.pos == printer.PositionNone && err == nil {
			err = &printer.Error{Printer: d.name, Op: "move to " + st.String(), Kind: printer.KindRefused, Position: d.pos, Detail: "no card in the printer"}
		} else if d.pos != printer.PositionNone {
			d.pos = printer.StationPosition(st)
		}
		d.mu.Unlock()
	}
	return err
}

func (d *Driver) Print(ctx context.Context, side printer.Side, p *raster.Panels) error {
	ribbon := ""
	if p != nil {
		ribbon = p.Ribbon()
	}
	err, effect := d.call(Call{Op: "print", Side: side, Ribbon: ribbon})
	if effect {
		d.mu.Lock()
		if d.pos == printer.PositionNone && err == nil {
			err = &printer.Error{Printer: d.name, Op: "print " + side.String(), Kind: printer.KindRefused, Position: d.pos, Detail: "no card in the printer"}
		} else if d.pos != printer.PositionNone {
			d.pos = printer.PositionPrintHead
			if p != nil {
				d.counters.PanelsPrinted += int64(len(p.List()))
			}
		}
		d.mu.Unlock()
	}
	return err
}

func (d *Driver) end(op string) error {
	err, effect := d.call(Call{Op: op})
	if effect {
		d.mu.Lock()
		d.pos = printer.PositionNone
		d.mu.Unlock()
	}
	return err
}

func (d *Driver) Eject(ctx context.Context) error  { return d.end("eject") }
func (d *Driver) Reject(ctx context.Context) error { return d.end("reject") }

func (d *Driver) Close() error {
	d.call(Call{Op: "close"})
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	return nil
}

var _ printer.Driver = (*Driver)(nil)
