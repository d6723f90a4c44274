package printer

import (
	"errors"
	"fmt"
	"strings"
)

// Kind classifies a printer failure by what a person has to do about it.
type Kind int

const (
	KindOther Kind = iota
	KindJam
	KindFeederEmpty
	KindRibbonOut
	KindRibbonMismatch
	KindCoverOpen
	KindRejectFull
	KindOutputFull
	KindNeedsCleaning
	KindBusy
	KindDisconnected
	KindTimeout
	KindHead
	KindRefused   // the printer refused the command (unknown, bad parameter, option missing)
	KindProtocol  // the reply made no sense
	KindStopped   // the print queue is stopped or paused (CUPS, IPP): nothing prints until a person starts it
	KindCancelled // the print job was cancelled outside the station (at the queue or the printer)
)

// Kinds lists every Kind a driver may report, for tables that must have
// a row for each (the station's guidance table, its fault table).
func Kinds() []Kind {
	out := make([]Kind, 0, len(kindInfo))
	for k := KindOther; k <= KindCancelled; k++ {
		out = append(out, k)
	}
	return out
}

// Sentinels for errors.Is. A *Error of a kind matches its sentinel.
var (
	ErrJam            = errors.New("card jam")
	ErrFeederEmpty    = errors.New("feeder empty")
	ErrRibbonOut      = errors.New("ribbon out")
	ErrRibbonMismatch = errors.New("wrong ribbon")
	ErrCoverOpen      = errors.New("cover open")
	ErrRejectFull     = errors.New("reject box full")
	ErrOutputFull     = errors.New("output hopper full")
	ErrNeedsCleaning  = errors.New("cleaning needed")
	ErrBusy           = errors.New("printer busy")
	ErrDisconnected   = errors.New("printer disconnected")
	ErrTimeout        = errors.New("printer timeout")
	ErrHead           = errors.New("print head fault")
	ErrRefused        = errors.New("command refused")
	ErrProtocol       = errors.New("unintelligible reply")
	ErrStopped        = errors.New("print queue stopped")
	ErrCancelled      = errors.New("print job cancelled outside the station")
)

var kindInfo = map[Kind]struct {
	sentinel error
	advice   string
}{
	KindJam:            {ErrJam, "open the cover, remove the card, close the cover and resume; count the card as spoiled"},
	KindFeederEmpty:    {ErrFeederEmpty, "load blank cards into the feeder and record the load"},
	KindRibbonOut:      {ErrRibbonOut, "replace the ribbon"},
	KindRibbonMismatch: {ErrRibbonMismatch, "install the ribbon type the job needs"},
	KindCoverOpen:      {ErrCoverOpen, "close the printer cover"},
	KindRejectFull:     {ErrRejectFull, "empty the reject box and record the spoiled cards"},
	KindOutputFull:     {ErrOutputFull, "take the printed cards out of the output hopper"},
	KindNeedsCleaning:  {ErrNeedsCleaning, "run a cleaning cycle with a cleaning card (diag printer clean)"},
	KindBusy:           {ErrBusy, "wait for the printer to finish, then retry"},
	KindDisconnected:   {ErrDisconnected, "check the printer's power and cable; the station reconnects by itself"},
	KindTimeout:        {ErrTimeout, "check the printer is on and shows no error, then retry"},
	KindHead:           {ErrHead, "call service: the print head reports a fault"},
	KindRefused:        {ErrRefused, "check the printer model and driver settings"},
	KindProtocol:       {ErrProtocol, "check the cable; if it repeats, restart the printer"},
	KindStopped:        {ErrStopped, "find why the queue stopped (lpstat -l -p NAME, the printer's display), fix it, then start the queue again (cupsenable NAME)"},
	KindCancelled:      {ErrCancelled, "ask who cancelled it; the card was not finished: count it as spoiled if it came out"},
	KindOther:          {nil, "check the printer's display"},
}

// Sentinel is the kind's error for errors.Is (nil for KindOther).
func (k Kind) Sentinel() error { return kindInfo[k].sentinel }

func (k Kind) String() string {
	if i, ok := kindInfo[k]; ok && i.sentinel != nil {
		return i.sentinel.Error()
	}
	return "printer error"
}

// Position is where a card is (or was stuck) inside the printer.
type Position int

const (
	PositionUnknown Position = iota
	PositionNone             // no card in the printer
	PositionFeeder           // leaving the feeder
	PositionPrintHead
	PositionContactless
	PositionContact
	PositionOutput // on its way to, or in, the output hopper
	PositionReject // on its way to, or in, the reject box
)

func (p Position) String() string {
	switch p {
	case PositionNone:
		return "none"
	case PositionFeeder:
		return "feeder"
	case PositionPrintHead:
		return "print head"
	case PositionContactless:
		return "contactless station"
	case PositionContact:
		return "contact station"
	case PositionOutput:
		return "output"
	case PositionReject:
		return "reject box"
	}
	return "unknown"
}

// MarshalText makes positions readable in JSON output.
func (p Position) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// StationPosition is the position of a card parked at st.
func StationPosition(st Station) Position {
	switch st {
	case StationContactless:
		return PositionContactless
	case StationContact:
		return PositionContact
	}
	return PositionPrintHead
}

// Error is a printer failure: which printer, during what, what kind, where
// the card is. Its message ends with what a person should do.
type Error struct {
	Printer  string   // the printer's name in the station's config, or its address
	Op       string   // what the driver was doing: "feed", "move to contactless", "print front", …
	Kind     Kind     //
	Position Position // where the card is; PositionNone when there is none
	Detail   string   // the printer's own words, or the transport's
	Err      error    // underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("printer ")
	if e.Printer != "" {
		b.WriteString(e.Printer)
	} else {
		b.WriteString("?")
	}
	if e.Op != "" {
		b.WriteString(": ")
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.String())
	if e.Position != PositionUnknown && e.Position != PositionNone {
		fmt.Fprintf(&b, " (card at %s)", e.Position)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, " [%s]", e.Detail)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	b.WriteString(" — ")
	b.WriteString(kindInfo[e.Kind].advice)
	return b.String()
}

// Is matches the sentinel of e's kind.
func (e *Error) Is(target error) bool {
	s := kindInfo[e.Kind].sentinel
	return s != nil && target == s
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the Kind of the first *Error or *LinkError in err's
// chain, or KindOther.
func KindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	var le *LinkError
	if errors.As(err, &le) {
		return le.Kind
	}
	return KindOther
}

// LinkError is how transports report a failure of the link: it reads as
// its cause and matches its kind's sentinel (ErrDisconnected, ErrTimeout,
// ErrBusy) with errors.Is.
type LinkError struct {
	Kind Kind
	Err  error
}

func (e *LinkError) Error() string { return e.Err.Error() }
func (e *LinkError) Unwrap() error { return e.Err }
func (e *LinkError) Is(target error) bool {
	s := kindInfo[e.Kind].sentinel
	return s != nil && target == s
}

// Link returns a *LinkError of kind k for the message.
func Link(k Kind, format string, args ...any) error {
	return &LinkError{Kind: k, Err: fmt.Errorf(format, args...)}
}
