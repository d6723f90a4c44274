// Package printer is what the station engine knows about a card printer: a
// small Driver interface, a registry of drivers and transports, and typed
// errors that tell a person what to do.
//
// Drivers (printer/evolis) speak a command language over a Conn; transports
// (printer/usb, printer/tcp) provide the Conn. The two meet only in Open, so
// protocol code never knows which cable it runs on. Import
// printstation/printer/all to register the drivers and transports this
// project ships.
package printer

import (
	"context"
	"fmt"

	"printstation/printer/raster"
)

// Station is a place inside the printer where a card can be parked.
type Station int

const (
	StationPrint       Station = iota // under the print head
	StationContactless                // in the field of the contactless encoder
	StationContact                    // under the smart-card contact station
)

func (s Station) String() string {
	switch s {
	case StationPrint:
		return "print"
	case StationContactless:
		return "contactless"
	case StationContact:
		return "contact"
	}
	return fmt.Sprintf("station(%d)", int(s))
}

// Side is a face of the card.
type Side int

const (
	Front Side = iota
	Back
)

func (s Side) String() string {
	if s == Back {
		return "back"
	}
	return "front"
}

// Info identifies a printer.
type Info struct {
	Driver   string `json:"driver"`
	Addr     string `json:"addr"`
	Model    string `json:"model"`
	Serial   string `json:"serial"`
	Firmware string `json:"firmware"`
	HeadKit  string `json:"head_kit,omitempty"`
	// Ribbon is the ribbon type the printer reports, when it does.
	Ribbon string `json:"ribbon,omitempty"`
	// DeviceID is the IEEE 1284 device id when the transport has one (USB).
	DeviceID string `json:"device_id,omitempty"`
}

// Status is what the printer reports about itself between cards.
type Status struct {
	Ready         bool     `json:"ready"` // nothing below stops the next card
	Card          Position `json:"card"`  // where a card is, PositionNone if none
	CoverOpen     bool     `json:"cover_open"`
	FeederEmpty   bool     `json:"feeder_empty"`
	RibbonOut     bool     `json:"ribbon_out"`
	NeedsCleaning bool     `json:"needs_cleaning"`
	// Problems lists, in words for a person, why the printer is not ready.
	Problems []string `json:"problems,omitempty"`
}

// Counters are the printer's own, non-resettable counters.
type Counters struct {
	// CardsInserted counts blanks taken from the feeder over the printer's
	// life. The engine's crash rule compares it before and after a feed.
	CardsInserted   int64 `json:"cards_inserted"`
	PanelsPrinted   int64 `json:"panels_printed"`
	Cleanings       int64 `json:"cleanings"`
	AvgCleaningFreq int64 `json:"avg_cleaning_frequency"`
	MaxCleaningFreq int64 `json:"max_cleaning_frequency"`
	// RibbonLeft is the printer's estimate of prints left on the ribbon
	// (not accurate, says the vendor); -1 when unknown.
	RibbonLeft int64 `json:"ribbon_left"`
}

// Driver is what the engine needs of a printer. A Driver is safe for use by
// several goroutines, but the printer does one thing at a time.
type Driver interface {
	Info(ctx context.Context) (Info, error)
	Status(ctx context.Context) (Status, error)
	Counters(ctx context.Context) (Counters, error)
	// Feed takes a blank from the feeder; it starts the card sequence.
	Feed(ctx context.Context) error
	MoveTo(ctx context.Context, st Station) error
	Print(ctx context.Context, side Side, p *raster.Panels) error
	// Eject sends the card to the output hopper and ends the sequence.
	Eject(ctx context.Context) error
	// Reject sends the card to the reject box and ends the sequence.
	Reject(ctx context.Context) error
	Close() error
}

// Sensor is one raw sensor reading.
type Sensor struct {
	Code  string  `json:"code"` // the printer's sensor letter
	Name  string  `json:"name"`
	Volts float64 `json:"volts"`
	// Reading says what the voltage means, when the driver knows.
	Reading string `json:"reading,omitempty"`
}

// Technician is implemented by drivers that offer maintenance operations.
// The engine never calls these; diagnostics do.
type Technician interface {
	Sensors(ctx context.Context) ([]Sensor, error)
	Clean(ctx context.Context) error
	TestCard(ctx context.Context) error
	SelfAdjust(ctx context.Context) error
	Reset(ctx context.Context) error
}
