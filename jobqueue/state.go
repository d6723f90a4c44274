package jobqueue

import (
	"errors"
	"fmt"
)

// State is where a job is in its life at this station.
//
// The legal transitions (anything else is refused by SetState):
//
//	received        → queued, refused, revoked, cancelled
//	queued          → printing, cancelled, revoked, failed
//	printing        → printed, spoiled_waiting, uncertain, attention,
//	                  queued (crash recovery: the printer fed no card)
//	spoiled_waiting → printing, queued, attention, failed, cancelled, revoked
//	uncertain       → printed (a person confirmed the card), spoiled_waiting, attention, failed
//	attention       → queued, printing, spoiled_waiting, cancelled, failed, revoked
//
// printed, cancelled, revoked, refused and failed are ended: nothing leaves
// them. A job is "received" while its card template is not yet on the station;
// it becomes "queued" (printable) once the template is cached.
type State string

const (
	Received       State = "received"
	Queued         State = "queued"
	Printing       State = "printing"
	Printed        State = "printed"
	SpoiledWaiting State = "spoiled_waiting"
	Uncertain      State = "uncertain"
	Attention      State = "attention"
	Cancelled      State = "cancelled"
	Revoked        State = "revoked"
	Refused        State = "refused"
	Failed         State = "failed"
)

var transitions = map[State][]State{
	Received:       {Queued, Refused, Revoked, Cancelled},
	Queued:         {Printing, Cancelled, Revoked, Failed},
	Printing:       {Printed, SpoiledWaiting, Uncertain, Attention, Queued},
	SpoiledWaiting: {Printing, Queued, Attention, Failed, Cancelled, Revoked},
	Uncertain:      {Printed, SpoiledWaiting, Attention, Failed},
	Attention:      {Queued, Printing, SpoiledWaiting, Cancelled, Failed, Revoked},
}

// AllStates lists every state, in life order.
var AllStates = []State{Received, Queued, Printing, SpoiledWaiting, Uncertain, Attention, Printed, Cancelled, Revoked, Refused, Failed}

// Ended reports whether s is final.
func (s State) Ended() bool {
	switch s {
	case Printed, Cancelled, Revoked, Refused, Failed:
		return true
	}
	return false
}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	for _, x := range AllStates {
		if x == s {
			return true
		}
	}
	return false
}

// CanMove reports whether from → to is a legal transition.
func CanMove(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// ErrIllegalTransition is returned (wrapped in *TransitionError) by SetState.
var ErrIllegalTransition = errors.New("illegal job state transition")

// ErrNotFound is returned for a job id the station does not hold.
var ErrNotFound = errors.New("job not found")

// ErrPurged is returned by Load for a job whose personal data was deleted.
var ErrPurged = errors.New("job's personal data was purged")

// TransitionError names the job and both states.
type TransitionError struct {
	JobID    string
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("job %s: cannot go from %s to %s", e.JobID, e.From, e.To)
}

func (e *TransitionError) Unwrap() error { return ErrIllegalTransition }
