package station

import (
	"context"
	"database/sql"
	"fmt"

	"printstation/inventory"
	"printstation/storage"
)

// maxSpoilAtOnce bounds one "stock spoil": a person counts damaged blanks
// by hand.
const maxSpoilAtOnce = 500

// SpoilBlanks records n blanks found damaged in storage as spoiled, one
// ledger event each (the ledger's unit for a spoiled card), in one
// transaction: they then await destruction before two people.
func (e *Engine) SpoilBlanks(ctx context.Context, actor string, n int64) (inventory.Entry, error) {
	if n <= 0 || n > maxSpoilAtOnce {
		return inventory.Entry{}, fmt.Errorf("stock spoil: --quantity must be 1 to %d damaged blanks", maxSpoilAtOnce)
	}
	var last inventory.Entry
	err := storage.InTx(ctx, e.db, func(tx *sql.Tx) error {
		for i := int64(0); i < n; i++ {
			en, err := e.ledger.Append(ctx, tx, inventory.Event{Kind: inventory.Spoiled, Actor: actor, Reason: inventory.ReasonDamaged})
			if err != nil {
				return err
			}
			last = en
		}
		return nil
	})
	if err != nil {
		return inventory.Entry{}, err
	}
	e.publish(Event{Type: "stock_spoil", Message: fmt.Sprintf("%d by %s", n, actor)})
	return last, nil
}
