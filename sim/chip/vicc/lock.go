package vicc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// LockPath is the file whose flock guards the PC/SC test bed (pcscd and both
// vpcd readers), shared by all processes on the machine.
var LockPath = filepath.Join(os.TempDir(), "printstation-pcsc-testbed.lock")

// HeldEnv is set in the environment of a process holding the test bed
// exclusively, so child processes it starts (a printer simulator inserting
// cards) use the test bed under their parent's lock instead of waiting for
// it.
const HeldEnv = "PRINTSTATION_PCSC_TESTBED_HELD"

// The test bed lock of this process: none, shared (some card was started:
// held until the process exits) or exclusive (LockTestbed).
var tb struct {
	mu   sync.Mutex
	f    *os.File
	mode int // 0, syscall.LOCK_SH or syscall.LOCK_EX
}

// LockTestbed waits until no other process uses the test bed, then holds it
// exclusively until release is called (or the process exits). `go test ./...`
// runs packages in parallel; without this one package's card would show up
// in another's encoder, and a pcscd restart in one would pull every card
// out. Test packages that insert cards or restart pcscd take it in
// TestMain. Processes that only Start cards (the demo, end-to-end tests)
// hold it shared from their first Start until they exit, so an exclusive
// holder waits for them and they wait for it.
func LockTestbed(ctx context.Context) (release func(), err error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if err := lockLocked(ctx, syscall.LOCK_EX); err != nil {
		return nil, err
	}
	_ = os.Setenv(HeldEnv, strconv.Itoa(os.Getpid()))
	return func() {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		_ = os.Unsetenv(HeldEnv)
		if tb.f != nil {
			_ = syscall.Flock(int(tb.f.Fd()), syscall.LOCK_UN)
			_ = tb.f.Close()
			tb.f, tb.mode = nil, 0
		}
	}, nil
}

// holdShared is called by Start: a process using the test bed keeps it shared.
func holdShared(ctx context.Context) error {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.mode != 0 {
		return nil // this process already holds it (shared or exclusive)
	}
	if os.Getenv(HeldEnv) != "" {
		return nil // a parent process holds it for us
	}
	return lockLocked(ctx, syscall.LOCK_SH)
}

func lockLocked(ctx context.Context, how int) error {
	if tb.mode == how {
		return nil
	}
	if tb.f == nil {
		f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o666)
		if err != nil {
			return fmt.Errorf("lock PC/SC test bed: %w", err)
		}
		tb.f = f
	}
	for {
		err := syscall.Flock(int(tb.f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			tb.mode = how
			return nil
		}
		if err != syscall.EWOULDBLOCK {
			return fmt.Errorf("lock PC/SC test bed %s: %w", LockPath, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("PC/SC test bed %s is held by another test process (chip test packages hold it ~20 s each): %w", LockPath, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
