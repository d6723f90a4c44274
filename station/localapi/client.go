// Package localapi is the daemon's local API as its clients see it: the
// unix-socket client and the JSON wire types. It lives apart from the
// engine so that printstationctl links neither the engine nor its drivers.
package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// SocketName is the local API's socket in the runtime directory.
const SocketName = "printstationd.sock"

// SocketPath is where the daemon with this runtime directory listens.
func SocketPath(runtimeDir string) string { return filepath.Join(runtimeDir, SocketName) }

// APIError is the body of every non-2xx answer of the local API.
type APIError struct {
	Error string `json:"error"`
}

// Client talks to the daemon's local API over its unix socket.
type Client struct {
	Socket string
	hc     *http.Client
	// auth and witness are header values (see SignAs, Witness).
	auth, witness string
}

// ErrNoDaemon means nothing answers on the socket.
var ErrNoDaemon = errors.New("printstationd is not running")

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	return &Client{Socket: socket, hc: &http.Client{
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socket)
			},
		},
	}}
}

// Do sends a request with an optional JSON body and decodes the JSON answer
// into out. Non-2xx answers become errors carrying the daemon's message.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://printstationd"+path, rd)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w (no answer on %s): start it with 'systemctl start printstationd', or give --socket", ErrNoDaemon, c.Socket)
		}
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var ae APIError
		if json.Unmarshal(b, &ae) == nil && ae.Error != "" {
			if resp.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("%w: %s", ErrUnauthorized, ae.Error)
			}
			return errors.New(ae.Error)
		}
		return fmt.Errorf("printstationd answered %s", resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("printstationd's answer to %s: %w", path, err)
		}
	}
	return nil
}

// Stream reads a newline-delimited JSON event stream until ctx ends,
// calling fn for each line.
func (c *Client) Stream(ctx context.Context, path string, fn func([]byte) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://printstationd"+path, nil)
	if err != nil {
		return err
	}
	c.authorize(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w (no answer on %s)", ErrNoDaemon, c.Socket)
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := fn(raw); err != nil {
			return err
		}
	}
}
