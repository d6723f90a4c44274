package station

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

// SocketPath is where the daemon of cfg listens.
func SocketPath(runtimeDir string) string { return filepath.Join(runtimeDir, SocketName) }

// listenUnix opens the local API socket, replacing a stale one left by a
// crashed daemon (the storage lock already proved no live daemon owns it).
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("local API: %w", err)
	}
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("local API: listen on %s: %w", path, err)
	}
	// Group members (the print-room staff's accounts) may use the CLI.
	os.Chmod(path, 0o660)
	return ln, nil
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// APIError is the body of every non-2xx answer of the local API.
type APIError struct {
	Error string `json:"error"`
}

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, APIError{Error: err.Error()})
}

// readJSON decodes a request body of at most 1 MiB into v, refusing
// unknown fields so a typo in a script is an error, not a silent default.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad request body: %w", err)
	}
	return nil
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
