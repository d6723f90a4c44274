package web

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrNotLoopback means the configured address would open the page to the
// network; it has no passwords, so it listens on this computer only.
var ErrNotLoopback = errors.New("the web page listens on loopback only")

// Serve serves handler on addr (a loopback address) until ctx ends.
func Serve(ctx context.Context, addr string, handler http.Handler) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web listen address %q: %w (write it as 127.0.0.1:8080)", addr, err)
	}
	if !loopbackHost(host) {
		return fmt.Errorf("web listen address %q: %w (use 127.0.0.1:PORT)", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web page on %s: %w (is another program using that port? change [web] listen)", addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		// Request contexts end with ctx, so the live streams close and
		// Shutdown does not wait on them.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("web page on %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-done
	return nil
}
