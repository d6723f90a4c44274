package vicc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockPath is the file whose flock marks the PC/SC test bed (pcscd and both
// vpcd readers) as in use by one test process.
var LockPath = filepath.Join(os.TempDir(), "printstation-pcsc-testbed.lock")

// LockTestbed waits until no other process holds the test bed, then holds
// it until release is called (or the process exits). `go test ./...` runs
// packages in parallel; without this, one package's card would show up in
// another's encoder, and a pcscd restart in one would pull every card out.
// Every test package that inserts cards or restarts pcscd takes it in
// TestMain.
func LockTestbed(ctx context.Context) (release func(), err error) {
	f, err := os.OpenFile(LockPath, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("lock PC/SC test bed: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN); _ = f.Close() }, nil
		}
		if err != syscall.EWOULDBLOCK {
			_ = f.Close()
			return nil, fmt.Errorf("lock PC/SC test bed %s: %w", LockPath, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("lock PC/SC test bed %s: held by another test process: %w", LockPath, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
