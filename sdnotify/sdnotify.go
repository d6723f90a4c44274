// Package sdnotify tells systemd how the daemon is doing: READY once it is
// up, STATUS lines with what it is printing, STOPPING on shutdown, and
// WATCHDOG pings only while the main loop makes progress, so that a stalled
// loop stops the pings and systemd restarts the service.
package sdnotify

import (
	"context"
	"os"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state strings to systemd. Without NOTIFY_SOCKET (not run
// by systemd) every call does nothing.
type Notifier struct {
	send func(state string) error
}

// New returns a Notifier that writes to $NOTIFY_SOCKET.
func New() *Notifier {
	return &Notifier{send: func(state string) error {
		_, err := daemon.SdNotify(false, state)
		return err
	}}
}

// NewFunc returns a Notifier that hands states to send (tests).
func NewFunc(send func(string) error) *Notifier { return &Notifier{send: send} }

func (n *Notifier) Ready() error          { return n.send(daemon.SdNotifyReady) }
func (n *Notifier) Stopping() error       { return n.send(daemon.SdNotifyStopping) }
func (n *Notifier) Reloading() error      { return n.send(daemon.SdNotifyReloading) }
func (n *Notifier) Status(s string) error { return n.send("STATUS=" + s) }
func (n *Notifier) WatchdogPing() error   { return n.send(daemon.SdNotifyWatchdog) }
func (n *Notifier) MainPID(pid int) error { return n.send("MAINPID=" + itoa(pid)) }

// WatchdogInterval is how often systemd expects a ping ($WATCHDOG_USEC),
// or 0 when the watchdog is off for this process.
func WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// Watchdog pings systemd at half the interval, but only when the loop it
// guards has called Progress since the last ping. A loop that is stuck (a
// deadlock, a wait without deadline) thus stops the pings.
type Watchdog struct {
	n        *Notifier
	interval time.Duration
	progress atomic.Uint64
}

// NewWatchdog guards a loop with a systemd watchdog of the given interval.
func NewWatchdog(n *Notifier, interval time.Duration) *Watchdog {
	return &Watchdog{n: n, interval: interval}
}

// Progress records that the guarded loop went round once more.
func (w *Watchdog) Progress() { w.progress.Add(1) }

// Run pings until ctx ends. With a zero interval it returns at once.
func (w *Watchdog) Run(ctx context.Context) {
	if w.interval <= 0 {
		return
	}
	t := time.NewTicker(w.interval / 2)
	defer t.Stop()
	last := w.progress.Load()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			now := w.progress.Load()
			if now != last {
				w.n.WatchdogPing()
				last = now
			}
		}
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b [20]byte
	p := len(b)
	for i > 0 {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
	}
	return string(b[p:])
}

// Enabled reports whether systemd is listening (NOTIFY_SOCKET is set).
func Enabled() bool { return os.Getenv("NOTIFY_SOCKET") != "" }
