package tcp

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"printstation/printer"
)

func listen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestTimeoutCancelAndClose(t *testing.T) {
	l := listen(t)
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	c, err := Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	srv := <-accepted

	// nothing comes: the deadline is a timeout
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = c.Read(ctx, make([]byte, 8))
	cancel()
	if !errors.Is(err, printer.ErrTimeout) {
		t.Errorf("read past deadline: %v", err)
	}
	// cancelled without a deadline: interrupted, and says so
	ctx, cancel = context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err = c.Read(ctx, make([]byte, 8))
	if !errors.Is(err, context.Canceled) || errors.Is(err, printer.ErrTimeout) {
		t.Errorf("cancelled read: %v", err)
	}
	// the link still works after both
	srv.Write([]byte("OK\r"))
	buf := make([]byte, 8)
	n, err := c.Read(context.Background(), buf)
	if err != nil || string(buf[:n]) != "OK\r" {
		t.Errorf("read after timeouts: %q %v", buf[:n], err)
	}
	// the printer goes away
	srv.Close()
	if _, err := c.Read(context.Background(), buf); !errors.Is(err, printer.ErrDisconnected) {
		t.Errorf("read from a closed link: %v", err)
	}
}

func TestDialRefused(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	l.Close()
	_, err := Dial(context.Background(), addr)
	if !errors.Is(err, printer.ErrDisconnected) || printer.KindOf(err) != printer.KindDisconnected {
		t.Errorf("dial to nothing: %v", err)
	}
}
