package vicc

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"time"
)

// Bed is the encoder station of one simulated printer: a fresh virtual card
// with its own UID is inserted when a blank reaches the contactless station
// and removed (its dump written) when the card leaves, which is the real
// physics of a card printer with a contactless encoder.
type Bed struct {
	Port int
	// UIDPrefix starts every card's UID; the card number follows.
	UIDPrefix []byte
	// DumpDir receives card-NNNNNN.json for every card, "" for none.
	DumpDir string
	// Applications are installed on every blank, as the card maker does.
	Applications [][]byte
	// OnError hears about a card that could not be inserted (the engine
	// then finds no card and spoils the blank with that reason).
	OnError func(card int, err error)

	mu   sync.Mutex
	cur  *Card
	curN int
}

// Station is the printer simulator's hook: card n arrived at (true) or left
// (false) the contactless station.
func (b *Bed) Station(n int, arrived bool) {
	b.mu.Lock()
	same := b.cur != nil && b.curN == n
	b.mu.Unlock()
	if arrived && same {
		return // the card is still in the field: its chip stays as it is
	}
	b.remove()
	if !arrived {
		return
	}
	uid := append(append([]byte(nil), b.UIDPrefix...), byte(n>>16), byte(n>>8), byte(n))
	o := Options{Port: b.Port, UID: uid, Applications: b.Applications}
	if b.DumpDir != "" {
		o.DumpPath = filepath.Join(b.DumpDir, fmt.Sprintf("card-%06d.json", n))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Start(ctx, o)
	if err != nil {
		if b.OnError != nil {
			b.OnError(n, err)
		}
		return
	}
	b.mu.Lock()
	b.cur, b.curN = c, n
	b.mu.Unlock()
}

func (b *Bed) remove() {
	b.mu.Lock()
	c := b.cur
	b.cur = nil
	b.mu.Unlock()
	if c != nil {
		c.Remove()
	}
}

// Close removes a card still in the reader.
func (b *Bed) Close() { b.remove() }
