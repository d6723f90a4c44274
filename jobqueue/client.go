package jobqueue

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClientConfig says how to reach the centre.
type ClientConfig struct {
	BaseURL   string // https://central.example/ (the API paths follow)
	CertFile  string // this station's client certificate (PEM)
	KeyFile   string // its private key (PEM)
	CAFile    string // the CA that signed the centre's server certificate
	StationID string
	// MaxBody bounds a response body (default 16 MiB): a broken centre must
	// not exhaust the station's memory.
	MaxBody int64
	// Transport replaces the TLS transport (tests only).
	Transport http.RoundTripper
}

// Client talks to the centre over HTTPS with the station's client
// certificate. Every call takes a context; long-polls get their own deadline.
type Client struct {
	base    *url.URL
	station string
	hc      *http.Client
	maxBody int64
}

// NewClient loads the station's certificate and the centre's CA.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/") + "/")
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("central client: base URL %q is not an https:// URL", cfg.BaseURL)
	}
	if cfg.StationID == "" {
		return nil, errors.New("central client: station id is empty")
	}
	rt := cfg.Transport
	if rt == nil {
		if u.Scheme != "https" {
			return nil, fmt.Errorf("central client: base URL %q must use https (the centre authenticates the station by its certificate)", cfg.BaseURL)
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("central client: station certificate %s / key %s: %w", cfg.CertFile, cfg.KeyFile, err)
		}
		caPEM, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("central client: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("central client: CA file %s holds no PEM certificate", cfg.CAFile)
		}
		rt = &http.Transport{
			TLSClientConfig: &tls.Config{
				Certificates: []tls.Certificate{cert},
				RootCAs:      pool,
				MinVersion:   tls.VersionTLS12,
			},
			DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   20 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			ExpectContinueTimeout: time.Second,
			MaxIdleConnsPerHost:   2,
			ForceAttemptHTTP2:     true,
		}
	}
	mb := cfg.MaxBody
	if mb <= 0 {
		mb = 16 << 20
	}
	return &Client{base: u, station: cfg.StationID, maxBody: mb, hc: &http.Client{Transport: rt}}, nil
}

// MaxAnswerBytes is the largest answer the client accepts; the syncer asks
// for pages no larger.
func (c *Client) MaxAnswerBytes() int64 { return c.maxBody }

// HTTPError is an answer from the centre that is not a success.
type HTTPError struct {
	Op     string
	Status int
	Body   string // start of the body, for diagnosis
}

func (e *HTTPError) Error() string {
	return fmt.Sprintf("central %s: HTTP %d: %s", e.Op, e.Status, e.Body)
}

// Temporary reports whether retrying later may succeed.
func (e *HTTPError) Temporary() bool {
	return e.Status >= 500 || e.Status == http.StatusTooManyRequests || e.Status == http.StatusRequestTimeout
}

// ErrBadResponse means the centre answered with a body the station cannot read.
var ErrBadResponse = errors.New("unreadable answer from the centre")

func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, idemKey string, body any, timeout time.Duration) ([]byte, error) {
	u := c.base.JoinPath(path)
	if query != nil {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		raw, ok := body.([]byte)
		if !ok {
			var err error
			if raw, err = json.Marshal(body); err != nil {
				return nil, err
			}
		}
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(raw)
		zw.Close()
		rd = &buf
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("central %s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("central %s: %w", op, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("central %s: reading answer: %w", op, err)
	}
	if int64(len(b)) > c.maxBody {
		return nil, fmt.Errorf("central %s: answer larger than %d bytes: %w", op, c.maxBody, ErrBadResponse)
	}
	if resp.StatusCode/100 != 2 {
		snip := string(b)
		if len(snip) > 200 || !printable(snip) {
			snip = fmt.Sprintf("(%d bytes)", len(b))
		}
		return nil, &HTTPError{Op: op, Status: resp.StatusCode, Body: snip}
	}
	return b, nil
}

func decodeJSON(op string, b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("central %s: %w: %s", op, ErrBadResponse, scrubJSONErr(err))
	}
	return nil
}

// JobsPage is one answer of the jobs long-poll.
type JobsPage struct {
	Jobs    []string `json:"jobs"`
	Cursor  string   `json:"cursor"`
	Revoked []string `json:"revoked"`
}

// FetchJobs long-polls for jobs after cursor, waiting up to wait when there
// are none, returning at most max jobs and about maxBytes of envelopes.
func (c *Client) FetchJobs(ctx context.Context, cursor string, wait time.Duration, max int, maxBytes int64) (JobsPage, error) {
	q := url.Values{}
	q.Set("cursor", cursor)
	q.Set("wait", strconv.Itoa(int(wait/time.Second)))
	q.Set("max", strconv.Itoa(max))
	if maxBytes > 0 {
		q.Set("max_bytes", strconv.FormatInt(maxBytes, 10))
	}
	// The deadline leaves room for the wait plus a slow transfer.
	b, err := c.do(ctx, "jobs", http.MethodGet, "v1/stations/"+url.PathEscape(c.station)+"/jobs", q, "", nil, wait+2*time.Minute)
	if err != nil {
		return JobsPage{}, err
	}
	var p JobsPage
	if err := decodeJSON("jobs", b, &p); err != nil {
		return JobsPage{}, err
	}
	if p.Cursor == "" && (len(p.Jobs) > 0 || len(p.Revoked) > 0) {
		return JobsPage{}, fmt.Errorf("central jobs: %w: page without a cursor", ErrBadResponse)
	}
	return p, nil
}

// FetchTemplate returns a template's exact bytes.
func (c *Client) FetchTemplate(ctx context.Context, id string) ([]byte, error) {
	return c.do(ctx, "template", http.MethodGet, "v1/templates/"+url.PathEscape(id), nil, "", nil, 2*time.Minute)
}

// FetchRevocations returns revocations after cursor.
func (c *Client) FetchRevocations(ctx context.Context, since string) (revoked []string, cursor string, err error) {
	q := url.Values{}
	q.Set("since", since)
	b, err := c.do(ctx, "revocations", http.MethodGet, "v1/stations/"+url.PathEscape(c.station)+"/revocations", q, "", nil, time.Minute)
	if err != nil {
		return nil, "", err
	}
	var r struct {
		Revoked []string `json:"revoked"`
		Cursor  string   `json:"cursor"`
	}
	if err := decodeJSON("revocations", b, &r); err != nil {
		return nil, "", err
	}
	return r.Revoked, r.Cursor, nil
}

// PostOutcomes reports outcomes; it returns the keys the centre accepted.
func (c *Client) PostOutcomes(ctx context.Context, idemKey string, items []OutcomeItem) ([]string, error) {
	b, err := c.do(ctx, "outcomes", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/outcomes", nil, idemKey, map[string]any{"items": items}, time.Minute)
	if err != nil {
		return nil, err
	}
	var r struct {
		Accepted []string `json:"accepted"`
	}
	if err := decodeJSON("outcomes", b, &r); err != nil {
		return nil, err
	}
	return r.Accepted, nil
}

// PostCheckpoint asks the centre to witness a signed checkpoint note; it
// returns the note with the centre's signature added.
func (c *Client) PostCheckpoint(ctx context.Context, idemKey, note string) (string, error) {
	b, err := c.do(ctx, "checkpoint", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/checkpoints", nil, idemKey, map[string]string{"checkpoint": note}, time.Minute)
	if err != nil {
		return "", err
	}
	var r struct {
		Cosigned string `json:"cosigned"`
	}
	if err := decodeJSON("checkpoint", b, &r); err != nil {
		return "", err
	}
	if r.Cosigned == "" {
		return "", fmt.Errorf("central checkpoint: %w: no cosigned note", ErrBadResponse)
	}
	return r.Cosigned, nil
}

// PostStock sends a stock report (JSON made by the inventory).
func (c *Client) PostStock(ctx context.Context, idemKey string, report []byte) error {
	if !json.Valid(report) {
		return errors.New("central stock: report is not JSON")
	}
	b, err := c.do(ctx, "stock", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/stock", nil, idemKey, report, time.Minute)
	if err != nil {
		return err
	}
	var r struct {
		OK bool `json:"ok"`
	}
	if err := decodeJSON("stock", b, &r); err != nil {
		return err
	}
	if !r.OK {
		return fmt.Errorf("central stock: %w: ok is false", ErrBadResponse)
	}
	return nil
}
