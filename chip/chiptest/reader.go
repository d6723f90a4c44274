package chiptest

import (
	"context"
	"fmt"
	"sync"

	"printstation/chip"
)

// Reader is a software card reader: one slot, a card goes in and out.
type Reader struct {
	mu      sync.Mutex
	card    *Card
	changed chan struct{} // closed and replaced on every Insert/Remove
}

// NewReader returns an empty reader.
func NewReader() *Reader { return &Reader{changed: make(chan struct{})} }

// Insert puts c in the reader, replacing any card there.
func (r *Reader) Insert(c *Card) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.card != nil {
		r.card.setGone(true)
	}
	c.setGone(false)
	r.card = c
	close(r.changed)
	r.changed = make(chan struct{})
}

// Remove takes the card out; a command in flight on it fails with
// chip.ErrCardRemoved.
func (r *Reader) Remove() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.card == nil {
		return
	}
	r.card.setGone(true)
	r.card = nil
	close(r.changed)
	r.changed = make(chan struct{})
}

// Card is the card in the reader, or nil.
func (r *Reader) Card() *Card {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.card
}

func (c *Card) setGone(g bool) {
	c.mu.Lock()
	c.gone = g
	c.mu.Unlock()
}

// present is the card in the field, skipping one that removed itself
// (RemoveAfterWrites) so a waiter keeps waiting for a real card.
func (r *Reader) present() (*Card, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.card != nil {
		r.card.mu.Lock()
		gone := r.card.gone
		r.card.mu.Unlock()
		if gone {
			return nil, r.changed
		}
	}
	return r.card, r.changed
}

// Encoder returns an encoder on this reader, the software twin of
// pcsc.Encoder.
func (r *Reader) Encoder(opts ...chip.Options) *Encoder {
	e := &Encoder{r: r}
	if len(opts) > 0 {
		e.opts = opts[0]
	}
	return e
}

// Encoder personalizes whatever card is in its Reader.
type Encoder struct {
	r    *Reader
	opts chip.Options
	mu   sync.Mutex // one card operation at a time, like a real encoder
}

var _ chip.Encoder = (*Encoder)(nil)

// Personalize waits (with ctx) for a card and personalizes it.
func (e *Encoder) Personalize(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.wait(ctx)
	if err != nil {
		return chip.Result{}, err
	}
	return chip.Personalize(ctx, c, c.ATR(), p, e.opts)
}

// Verify waits (with ctx) for a card and compares it with p.
func (e *Encoder) Verify(ctx context.Context, p chip.Personalization) (chip.Result, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.wait(ctx)
	if err != nil {
		return chip.Result{}, err
	}
	return chip.Verify(ctx, c, c.ATR(), p, e.opts)
}

// Close releases nothing; it exists so the engine treats both encoders alike.
func (e *Encoder) Close() error { return nil }

func (e *Encoder) wait(ctx context.Context) (*Card, error) {
	for {
		c, changed := e.r.present()
		if c != nil {
			return c, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("software reader: %w (%w)", chip.ErrNoCard, ctx.Err())
		}
	}
}

// Do waits (with ctx) for a card and runs f with it, as pcsc.Encoder.Do.
func (e *Encoder) Do(ctx context.Context, f func(ctx context.Context, c chip.Card, atr []byte) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	c, err := e.wait(ctx)
	if err != nil {
		return err
	}
	return f(ctx, c, c.ATR())
}

// WaitRemoved waits (with ctx) until the reader is empty.
func (e *Encoder) WaitRemoved(ctx context.Context) error {
	for {
		c, changed := e.r.present()
		if c == nil {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("software reader: the card is still on it (%w)", ctx.Err())
		}
	}
}
