package station

import (
	"context"
	"sync"

	"printstation/chip"
	"printstation/printer"
	"printstation/printer/raster"
)

// lazyPrinter opens its driver on first use, so that a printer switched off
// at boot does not stop the station: its worker shows it offline and tries
// again.
type lazyPrinter struct {
	open func(ctx context.Context) (printer.Driver, error)
	mu   sync.Mutex
	d    printer.Driver
}

func (l *lazyPrinter) get(ctx context.Context) (printer.Driver, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.d != nil {
		return l.d, nil
	}
	d, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	l.d = d
	return d, nil
}

func (l *lazyPrinter) Status(ctx context.Context) (printer.Status, error) {
	d, err := l.get(ctx)
	if err != nil {
		return printer.Status{}, err
	}
	return d.Status(ctx)
}

func (l *lazyPrinter) Counters(ctx context.Context) (printer.Counters, error) {
	d, err := l.get(ctx)
	if err != nil {
		return printer.Counters{}, err
	}
	return d.Counters(ctx)
}

func (l *lazyPrinter) CardCounters(ctx context.Context) (printer.Counters, error) {
	d, err := l.get(ctx)
	if err != nil {
		return printer.Counters{}, err
	}
	if c, ok := d.(cardCounterReader); ok {
		return c.CardCounters(ctx)
	}
	return d.Counters(ctx)
}

func (l *lazyPrinter) do(ctx context.Context, f func(printer.Driver) error) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return f(d)
}

func (l *lazyPrinter) Feed(ctx context.Context) error {
	return l.do(ctx, func(d printer.Driver) error { return d.Feed(ctx) })
}
func (l *lazyPrinter) MoveTo(ctx context.Context, st printer.Station) error {
	return l.do(ctx, func(d printer.Driver) error { return d.MoveTo(ctx, st) })
}
func (l *lazyPrinter) Print(ctx context.Context, side printer.Side, p *raster.Panels) error {
	return l.do(ctx, func(d printer.Driver) error { return d.Print(ctx, side, p) })
}
func (l *lazyPrinter) Eject(ctx context.Context) error {
	return l.do(ctx, func(d printer.Driver) error { return d.Eject(ctx) })
}
func (l *lazyPrinter) Reject(ctx context.Context) error {
	return l.do(ctx, func(d printer.Driver) error { return d.Reject(ctx) })
}

// driver is the opened driver (its maintenance side, its identity).
func (l *lazyPrinter) driver(ctx context.Context) (printer.Driver, error) { return l.get(ctx) }

func (l *lazyPrinter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.d == nil {
		return nil
	}
	return l.d.Close()
}

// lazyEncoder opens the PC/SC encoder on first use, so that a station
// whose pcscd is not up yet starts anyway: its printers wait, offline, until
// the encoder answers, and no blank is fed meanwhile.
type lazyEncoder struct {
	open func(ctx context.Context) (Encoder, error)
	mu   sync.Mutex
	enc  Encoder
}

func (l *lazyEncoder) get(ctx context.Context) (Encoder, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.enc != nil {
		return l.enc, nil
	}
	e, err := l.open(ctx)
	if err != nil {
		return nil, err
	}
	l.enc = e
	return e, nil
}

// Ready reports whether the encoder can be reached; the worker asks before
// it feeds a blank.
func (l *lazyEncoder) Ready(ctx context.Context) error {
	_, err := l.get(ctx)
	return err
}

func (l *lazyEncoder) Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	e, err := l.get(ctx)
	if err != nil {
		return chip.Result{}, err
	}
	return e.Personalize(ctx, p)
}

func (l *lazyEncoder) Verify(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	e, err := l.get(ctx)
	if err != nil {
		return chip.Result{}, err
	}
	return e.Verify(ctx, p)
}

func (l *lazyEncoder) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.enc.(interface{ Close() error }); ok && l.enc != nil {
		return c.Close()
	}
	return nil
}
