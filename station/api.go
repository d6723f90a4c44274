package station

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"

	"printstation/station/localapi"
)

// SocketPath is where the daemon of cfg listens.
func SocketPath(runtimeDir string) string { return localapi.SocketPath(runtimeDir) }

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

func writeErr(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, localapi.APIError{Error: err.Error()})
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
