package station

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ErrAlreadyRunning is returned when another daemon holds the storage lock.
var ErrAlreadyRunning = errors.New("another printstationd is already running on this storage")

// lockStorage takes an exclusive advisory lock on the storage directory so
// that two daemons never drive the same ledger and printers. The kernel
// drops the lock when the process dies, so a crash never leaves it stale.
func lockStorage(dir string) (*os.File, error) {
	p := filepath.Join(dir, "printstationd.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(p)
		f.Close()
		pid := strings.TrimSpace(string(b))
		if pid == "" {
			pid = "unknown"
		}
		return nil, fmt.Errorf("%w: storage %s is locked by pid %s; stop that one first (systemctl stop printstationd) or give this one another storage_dir: %w",
			ErrAlreadyRunning, dir, pid, err)
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	f.Sync()
	return f, nil
}
