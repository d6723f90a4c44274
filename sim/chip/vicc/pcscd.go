package vicc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ebfe/scard"
)

// ErrNoPcscd means the pcscd binary is not installed.
var ErrNoPcscd = errors.New("pcscd not installed (apt-get install pcscd vsmartcard-vpcd python3-virtualsmartcard)")

const pidFile = "/run/pcscd/pcscd.pid"

// PcscdPath is where Debian installs the daemon.
var PcscdPath = "/usr/sbin/pcscd"

// EnsurePcscd starts pcscd (daemonized, like scripts/testbed-up.sh) unless
// one already answers, and waits until the vpcd readers are listed. started
// says whether this call started it. The daemon is left running: other test
// processes may be using it by the time this one ends.
func EnsurePcscd(ctx context.Context) (started bool, err error) {
	if readersUp() {
		return false, nil
	}
	if _, err := os.Stat(PcscdPath); err != nil {
		return false, ErrNoPcscd
	}
	if pid := daemonPID(); pid == 0 {
		if err := startPcscd(); err != nil {
			return false, err
		}
		started = true
	}
	return started, waitReaders(ctx)
}

// RestartPcscd stops the running pcscd and starts a new one, as a service
// restart would. Every PC/SC context and card handle becomes invalid.
func RestartPcscd(ctx context.Context) error {
	if err := StopPcscd(ctx); err != nil {
		return err
	}
	if err := startPcscd(); err != nil {
		return err
	}
	return waitReaders(ctx)
}

// StopPcscd stops the running pcscd (SIGTERM) and waits until it is gone.
// Only for tests that own the test bed (LockTestbed); EnsurePcscd brings it
// back.
func StopPcscd(ctx context.Context) error {
	pid := daemonPID()
	if pid == 0 {
		return errors.New("stop pcscd: no pcscd running")
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stop pcscd: pid %d: %w", pid, err)
	}
	for syscall.Kill(pid, 0) == nil {
		select {
		case <-ctx.Done():
			return fmt.Errorf("stop pcscd: pid %d did not stop: %w", pid, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// PcscdPID is the pid of the running pcscd, 0 if none.
func PcscdPID() int { return daemonPID() }

func startPcscd() error {
	_ = os.MkdirAll("/run/pcscd", 0o755)
	out, err := exec.Command(PcscdPath).CombinedOutput() // daemonizes and returns
	if err != nil {
		return fmt.Errorf("start pcscd: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

func daemonPID() int {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.Trim(string(b), " \t\n\x00"))
	if err != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	return pid
}

func readersUp() bool {
	c, err := scard.EstablishContext()
	if err != nil {
		return false
	}
	defer c.Release()
	rs, err := c.ListReaders()
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r == ReaderName(Port0) {
			return true
		}
	}
	return false
}

func waitReaders(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
	}
	for !readersUp() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("pcscd: reader %q not listed (is vsmartcard-vpcd installed?): %w", ReaderName(Port0), ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}
