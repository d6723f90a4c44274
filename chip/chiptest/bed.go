package chiptest

import "sync"

// Bed is a printer's contactless station with software cards, the
// in-process twin of vicc.Bed: every blank brings a fresh chip with its own
// UID, and a card that stays in the printer keeps its chip.
type Bed struct {
	Reader *Reader
	// UIDPrefix starts every card's UID; the card number follows.
	UIDPrefix []byte
	// Blank is the card maker's blank (applications, extended length,
	// faults); Card, when set, gives card n its own.
	Blank Config
	Card  func(n int) Config

	mu   sync.Mutex
	cur  *Card
	curN int
}

// Station is the printer simulator's hook: card n arrived at (true) or
// left (false) the contactless station.
func (b *Bed) Station(n int, arrived bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !arrived {
		b.Reader.Remove()
		return
	}
	if b.cur == nil || b.curN != n {
		cfg := b.Blank
		if b.Card != nil {
			cfg = b.Card(n)
		}
		cfg.UID = append(append([]byte(nil), b.UIDPrefix...), byte(n>>16), byte(n>>8), byte(n))
		b.cur, b.curN = NewCard(cfg), n
	}
	b.Reader.Insert(b.cur)
}

// Current is the chip of the card last at the station (a test can hold it
// to the reader again, as a person holds a finished card).
func (b *Bed) Current() *Card {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.cur
}
