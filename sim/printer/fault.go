package simprinter

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Phase is a step of a card's way through the printer where a fault can be
// scripted.
type Phase string

const (
	PhaseFeed        Phase = "feed"        // Si (and the blank taken by Sic/Sis)
	PhaseContactless Phase = "contactless" // Sic, Sis
	PhasePrint       Phase = "print"       // Sp
	PhaseEject       Phase = "eject"       // Se, Ser, Seb
)

// FaultKind is what goes wrong.
type FaultKind string

const (
	FaultJam         FaultKind = "jam"          // the card sticks where it is; Srs (reset) removes it by hand
	FaultFeederEmpty FaultKind = "feeder_empty" // the feeder reads empty for this command
	FaultRibbonEnd   FaultKind = "ribbon_end"   // the ribbon runs out
	FaultCoverOpen   FaultKind = "cover_open"   // someone opens the cover mid-job
	FaultRejectFull  FaultKind = "reject_full"  // the reject box is full from now on
	FaultDisconnect  FaultKind = "disconnect"   // the link drops (before the command runs, or :after)
	FaultBusy        FaultKind = "busy"         // the printer answers busy
	FaultGarbled     FaultKind = "garbled"      // the command runs, the reply is noise (or :before: it does not run)
	FaultSlow        FaultKind = "slow"         // the command runs, the reply comes late (:DURATION, default 10s)
)

var faultKinds = map[FaultKind]bool{
	FaultJam: true, FaultFeederEmpty: true, FaultRibbonEnd: true, FaultCoverOpen: true,
	FaultRejectFull: true, FaultDisconnect: true, FaultBusy: true, FaultGarbled: true, FaultSlow: true,
}

// Fault is one scripted failure.
type Fault struct {
	Card  int // card number (1 = the first blank this printer ever took); 0 = every card
	Phase Phase
	Kind  FaultKind
	// After: the command takes effect before the fault shows (disconnect,
	// garbled). Garbled defaults to after, disconnect to before.
	After bool
	Delay time.Duration // slow: how late the reply is

	fired bool
}

func (f Fault) String() string {
	card := "*"
	if f.Card > 0 {
		card = strconv.Itoa(f.Card)
	}
	s := card + ":" + string(f.Phase) + ":" + string(f.Kind)
	switch {
	case f.Kind == FaultSlow:
		s += ":" + f.Delay.String()
	case f.Kind == FaultDisconnect && f.After:
		s += ":after"
	case f.Kind == FaultGarbled && !f.After:
		s += ":before"
	}
	return s
}

// ParseFault reads CARD:PHASE:KIND[:ARG], e.g. "3:print:jam",
// "*:feed:busy", "2:eject:slow:5s", "4:contactless:disconnect:after".
func ParseFault(s string) (Fault, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) < 3 || len(parts) > 4 {
		return Fault{}, fmt.Errorf("fault %q: want CARD:PHASE:KIND[:ARG], e.g. 3:print:jam", s)
	}
	var f Fault
	if parts[0] != "*" {
		n, err := strconv.Atoi(parts[0])
		if err != nil || n < 1 {
			return Fault{}, fmt.Errorf("fault %q: card %q must be a number from 1, or *", s, parts[0])
		}
		f.Card = n
	}
	f.Phase = Phase(parts[1])
	switch f.Phase {
	case PhaseFeed, PhaseContactless, PhasePrint, PhaseEject:
	default:
		return Fault{}, fmt.Errorf("fault %q: phase %q is not one of feed, contactless, print, eject", s, parts[1])
	}
	f.Kind = FaultKind(parts[2])
	if !faultKinds[f.Kind] {
		return Fault{}, fmt.Errorf("fault %q: kind %q is not one of jam, feeder_empty, ribbon_end, cover_open, reject_full, disconnect, busy, garbled, slow", s, parts[2])
	}
	f.After = f.Kind == FaultGarbled
	f.Delay = 10 * time.Second
	if len(parts) == 4 {
		arg := parts[3]
		switch {
		case f.Kind == FaultSlow:
			d, err := time.ParseDuration(arg)
			if err != nil || d < 0 {
				return Fault{}, fmt.Errorf("fault %q: %q is not a duration like 5s", s, arg)
			}
			f.Delay = d
		case (f.Kind == FaultDisconnect || f.Kind == FaultGarbled) && (arg == "after" || arg == "before"):
			f.After = arg == "after"
		default:
			return Fault{}, fmt.Errorf("fault %q: argument %q does not apply to %s", s, arg, f.Kind)
		}
	}
	return f, nil
}

// ParseFaults reads one fault a line; blank lines and # comments are skipped.
func ParseFaults(r io.Reader) ([]Fault, error) {
	var out []Fault
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = strings.TrimSpace(t[:i])
		}
		if t == "" {
			continue
		}
		f, err := ParseFault(t)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, f)
	}
	return out, sc.Err()
}
