package station

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"printstation/chip"
	"printstation/chip/pcsc"
	"printstation/config"
	"printstation/printer"
	"printstation/printer/raster"
)

// Printer is what the engine needs of a card printer.
type Printer interface {
	Status(ctx context.Context) (printer.Status, error)
	Counters(ctx context.Context) (printer.Counters, error)
	Feed(ctx context.Context) error
	MoveTo(ctx context.Context, st printer.Station) error
	Print(ctx context.Context, side printer.Side, p *raster.Panels) error
	Eject(ctx context.Context) error
	Reject(ctx context.Context) error
	Close() error
}

// cardCounterReader is a printer that reads only the counters the worker
// needs before a blank — cards inserted and cleanings — with fewer commands
// than Counters (the Evolis driver: two instead of six). Every command is a
// wait on the printer between two cards.
type cardCounterReader interface {
	CardCounters(ctx context.Context) (printer.Counters, error)
}

// cardCounters reads the counters the worker needs before a blank, the
// short way when the printer has one.
func cardCounters(ctx context.Context, p Printer) (printer.Counters, error) {
	if c, ok := p.(cardCounterReader); ok {
		return c.CardCounters(ctx)
	}
	return p.Counters(ctx)
}

// Encoder is what the engine needs of the contactless encoder in a printer.
type Encoder interface {
	Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error)
	Verify(ctx context.Context, p chip.Personalization) (chip.Result, error)
}

// Parts are the devices a station drives, keyed by the printer's name in
// the config. A printer without an encoder prints cards without chips.
type Parts struct {
	Printers map[string]Printer
	Encoders map[string]Encoder
	// Confirm is the desk reader a person holds an uncertain card to
	// (engine.confirm_reader); nil: the printer's own encoder is used.
	Confirm Encoder
	// Close releases the devices (and, in the demo, the simulators).
	Close func()
}

// PartsFactory builds the parts for a config.
type PartsFactory func(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Parts, error)

// RealParts opens the configured printers and their encoders. A printer
// that cannot be reached yet is not an error: it is opened lazily by its
// worker, which shows it offline until it answers.
func RealParts(ctx context.Context, cfg *config.Config, log zerolog.Logger) (*Parts, error) {
	ps := &Parts{Printers: map[string]Printer{}, Encoders: map[string]Encoder{}}
	for _, pc := range cfg.Printers {
		pc := pc
		ps.Printers[pc.Name] = &lazyPrinter{open: func(ctx context.Context) (printer.Driver, error) {
			return printer.Open(ctx, pc.Driver, pc.Addr(), printer.Options{Name: pc.Name, Compress: true, Ribbon: pc.Ribbon, Log: log})
		}}
		if pc.EncoderReader != "" {
			pattern := pc.EncoderReader
			if _, err := pcsc.Matcher(pattern); err != nil {
				return nil, fmt.Errorf("printer %s: encoder_reader %q: %w", pc.Name, pattern, err)
			}
			ps.Encoders[pc.Name] = &lazyEncoder{open: func(ctx context.Context) (Encoder, error) {
				return pcsc.OpenWith(ctx, pattern, pcsc.Options{Log: log})
			}}
		}
	}
	if pattern := cfg.Engine.ConfirmReader; pattern != "" {
		if _, err := pcsc.Matcher(pattern); err != nil {
			return nil, fmt.Errorf("engine.confirm_reader %q: %w", pattern, err)
		}
		ps.Confirm = &lazyEncoder{open: func(ctx context.Context) (Encoder, error) {
			return pcsc.OpenWith(ctx, pattern, pcsc.Options{Log: log})
		}}
	}
	ps.Close = func() {
		for _, p := range ps.Printers {
			p.Close()
		}
		for _, e := range ps.Encoders {
			if c, ok := e.(interface{ Close() error }); ok {
				c.Close()
			}
		}
		if c, ok := ps.Confirm.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	return ps, nil
}
