package test

import (
	"context"
	"time"

	"printstation/sim/chip/vicc"
)

// lockTestbed holds the shared PC/SC test bed (pcscd's two virtual readers)
// for this package's run, so the chip packages' tests, which restart pcscd,
// do not run while our printers put cards in the readers. The printersim
// children inherit the hold.
func lockTestbed() func() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	release, err := vicc.LockTestbed(ctx)
	if err != nil {
		return func() {}
	}
	return release
}
