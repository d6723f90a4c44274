package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// ErrNotLoopback means the configured address would open the page to the
// network without TLS, where sign-ins would cross it in clear.
var ErrNotLoopback = errors.New("the web page listens on loopback only unless TLS is configured")

// Serve serves handler on addr (a loopback address) until ctx ends.
func Serve(ctx context.Context, addr string, handler http.Handler) error {
	return Listen(ctx, addr, handler, nil)
}

// Listen serves handler on addr until ctx ends: over TLS when tc is set
// (then addr may be a LAN address), else on loopback only.
func Listen(ctx context.Context, addr string, handler http.Handler, tc *tls.Config) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web listen address %q: %w (write it as 127.0.0.1:8080)", addr, err)
	}
	if !loopbackHost(host) && tc == nil {
		return fmt.Errorf("web listen address %q: %w (use 127.0.0.1:PORT, or set web.tls_cert/tls_key or web.tls_self_signed)", addr, ErrNotLoopback)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("web page on %s: %w (is another program using that port? change [web] listen)", addr, err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
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
