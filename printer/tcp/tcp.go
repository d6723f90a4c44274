// Package tcp is the raw TCP transport for network card printers
// (tcp://HOST:PORT), and the adapter that turns any net.Conn (such as the
// simulator's in-process pipe) into a printer.Conn.
package tcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"printstation/printer"
)

func init() {
	printer.RegisterTransport("tcp", func(ctx context.Context, a printer.Addr) (printer.Conn, error) {
		return Dial(ctx, a.Host)
	})
}

// Dial connects to a printer's raw TCP port. A driver that loses the link
// calls its dialer again, which is how reconnects happen.
func Dial(ctx context.Context, hostport string) (printer.Conn, error) {
	var d net.Dialer
	if _, ok := ctx.Deadline(); !ok {
		d.Timeout = 5 * time.Second
	}
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, printer.Link(printer.KindDisconnected, "connect to %s: %w", hostport, err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetKeepAlive(true)
		tc.SetKeepAlivePeriod(15 * time.Second)
		tc.SetNoDelay(true)
		// A card's panels (≈ 1.3 MB at 32 levels) fit the socket's send
		// buffer at once: each panel download is handed to the kernel in
		// one go, and the driver's goroutine is not woken again and again
		// as the printer drains a small buffer — on a busy one-CPU host
		// each such wake waited for the CPU (docs/bench/station.md, item
		// 6). Best effort: the kernel caps it at net.core.wmem_max.
		tc.SetWriteBuffer(sendBuffer)
	}
	return Wrap(c), nil
}

// sendBuffer is the printer connection's socket send buffer.
const sendBuffer = 2 << 20

// Wrap adapts a net.Conn: each Read and Write takes its deadline from the
// context, and cancelling the context interrupts it.
func Wrap(c net.Conn) printer.Conn { return &conn{c: c} }

type conn struct{ c net.Conn }

func (c *conn) Read(ctx context.Context, p []byte) (int, error) {
	return c.io(ctx, c.c.SetReadDeadline, func() (int, error) { return c.c.Read(p) })
}

func (c *conn) Write(ctx context.Context, p []byte) (int, error) {
	return c.io(ctx, c.c.SetWriteDeadline, func() (int, error) { return c.c.Write(p) })
}

func (c *conn) Close() error { return c.c.Close() }

func (c *conn) io(ctx context.Context, setDeadline func(time.Time) error, f func() (int, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, mapErr(ctx, err)
	}
	dl, _ := ctx.Deadline()
	setDeadline(dl)
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		setDeadline(time.Unix(1, 0))
		close(fired)
	})
	n, err := f()
	if !stop() {
		// The interrupt has started: let it finish now, or it would land
		// late and cut short the next call on this connection.
		<-fired
	}
	if err != nil {
		return n, mapErr(ctx, err)
	}
	return n, nil
}

func mapErr(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		if cerr := ctx.Err(); errors.Is(cerr, context.Canceled) {
			return fmt.Errorf("printer link: %w", cerr)
		}
		return printer.Link(printer.KindTimeout, "no answer in time")
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("printer link: %w", err)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, io.ErrClosedPipe):
		return printer.Link(printer.KindDisconnected, "link closed")
	}
	return printer.Link(printer.KindDisconnected, "link: %w", err)
}
