package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// A real unixgram socket as NOTIFY_SOCKET sees what systemd would.
func TestNotifySocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	n := New()
	n.Ready()
	n.Status("printing batch B1 on p1")
	n.Stopping()
	var got []string
	buf := make([]byte, 4096)
	for range 3 {
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(buf[:k]))
	}
	want := "READY=1|STATUS=printing batch B1 on p1|STOPPING=1"
	if strings.Join(got, "|") != want {
		t.Fatalf("got %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestWatchdogStopsWhenLoopStalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		pings := 0
		n := NewFunc(func(s string) error {
			if s == "WATCHDOG=1" {
				mu.Lock()
				pings++
				mu.Unlock()
			}
			return nil
		})
		wd := NewWatchdog(n, 10*time.Second)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go wd.Run(ctx)

		// A healthy loop goes round every second for a minute.
		stall := make(chan struct{})
		var loop sync.WaitGroup
		loop.Add(1)
		go func() {
			defer loop.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if i == 60 {
					<-stall // the loop hangs
				}
				wd.Progress()
				time.Sleep(time.Second)
			}
		}()
		time.Sleep(60 * time.Second)
		synctest.Wait()
		mu.Lock()
		healthy := pings
		mu.Unlock()
		if healthy < 10 {
			t.Fatalf("only %d pings in a healthy minute with a 10 s watchdog", healthy)
		}
		time.Sleep(5*time.Minute + time.Second)
		synctest.Wait()
		mu.Lock()
		after := pings
		mu.Unlock()
		if after-healthy > 1 {
			t.Fatalf("watchdog pinged %d times while the loop was stalled", after-healthy)
		}
		cancel()
		close(stall)
		loop.Wait()
	})
}

func TestWatchdogInterval(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "20000000")
	t.Setenv("WATCHDOG_PID", "")
	if d := WatchdogInterval(); d != 20*time.Second {
		t.Fatalf("interval = %v", d)
	}
	t.Setenv("WATCHDOG_USEC", "")
	if d := WatchdogInterval(); d != 0 {
		t.Fatalf("interval without systemd = %v", d)
	}
}
