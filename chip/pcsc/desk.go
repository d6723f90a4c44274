package pcsc

import (
	"context"
	"fmt"
	"time"

	"github.com/ebfe/scard"

	"printstation/chip"
)

// Present reports whether a card is on the reader now. A desk reader (the
// engine's encoder = "desk") uses it to see the operator take a card away.
func (e *Encoder) Present(ctx context.Context) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false, fmt.Errorf("chip reader %q: closed", e.pattern)
	}
	if err := e.establish(); err != nil {
		return false, err
	}
	reader, err := e.resolve()
	if err != nil {
		return false, err
	}
	states := []scard.ReaderState{{Reader: reader, CurrentState: scard.StateUnaware}}
	if err := e.watch.GetStatusChange(states, 0); err != nil && err != scard.ErrTimeout {
		return false, e.mapErr("card status", err)
	}
	st := states[0].EventState
	if st&(scard.StateUnknown|scard.StateIgnore|scard.StateUnavailable) != 0 {
		return false, fmt.Errorf("chip reader %q: %w: reader unplugged — check its USB cable", reader, chip.ErrReaderGone)
	}
	return st&scard.StatePresent != 0, nil
}

// WaitRemoved waits, until ctx ends, for the reader to be empty.
func (e *Encoder) WaitRemoved(ctx context.Context) error {
	for {
		on, err := e.Present(ctx)
		if err != nil {
			return err
		}
		if !on {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("chip reader %q: the card is still on it: %w", e.Reader(), ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
