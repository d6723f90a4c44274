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
	"sync"
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
	// LatestSize and Epoch are what the centre says it witnessed, in a 409
	// answer to a checkpoint or enrolment (-1 when absent).
	LatestSize, Epoch int64
	superseded        bool // the centre holds a later checkpoint than the one sent
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

// Request bodies of gzipMinBody bytes or more go gzip'd (the contract:
// bodies may be gzip), through a kept compressor: a new gzip.Writer is
// ≈ 800 KB of tables, allocated and cleared for every report sent, about
// one a card. A smaller body — one card's outcome is ≈ 300 bytes — goes as
// it is: gzip would save a few dozen bytes of it.
const gzipMinBody = 1024

var gzipWriters = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

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
		rd = bytes.NewReader(raw)
		if len(raw) >= gzipMinBody {
			var buf bytes.Buffer
			zw := gzipWriters.Get().(*gzip.Writer)
			zw.Reset(&buf)
			zw.Write(raw)
			zw.Close()
			gzipWriters.Put(zw)
			rd = &buf
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("central %s: %w", op, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		if _, zipped := rd.(*bytes.Buffer); zipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
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
		he := &HTTPError{Op: op, Status: resp.StatusCode, Body: snip, LatestSize: -1, Epoch: -1}
		var c struct {
			LatestSize *int64 `json:"latest_size"`
			Epoch      *int64 `json:"epoch"`
			Error      string `json:"error"`
		}
		if json.Unmarshal(b, &c) == nil {
			if c.LatestSize != nil {
				he.LatestSize = *c.LatestSize
			}
			if c.Epoch != nil {
				he.Epoch = *c.Epoch
			}
			if c.Error != "" && len(c.Error) <= 400 && printable(c.Error) {
				he.Body = c.Error
			}
		}
		return nil, he
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

// Rejection is an outcome the centre refused for good, with its reason
// (for example a second "printed" for a job it already closed).
type Rejection struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

// OutcomesAnswer is the centre's answer to a batch of outcomes: keys it
// accepted, and keys it refused for good. Keys in neither go again.
type OutcomesAnswer struct {
	Accepted []string    `json:"accepted"`
	Rejected []Rejection `json:"rejected"`
}

// PostOutcomes reports outcomes.
func (c *Client) PostOutcomes(ctx context.Context, idemKey string, items []OutcomeItem) (OutcomesAnswer, error) {
	b, err := c.do(ctx, "outcomes", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/outcomes", nil, idemKey, map[string]any{"items": items}, time.Minute)
	if err != nil {
		return OutcomesAnswer{}, err
	}
	var r OutcomesAnswer
	if err := decodeJSON("outcomes", b, &r); err != nil {
		return OutcomesAnswer{}, err
	}
	if len(r.Rejected) > len(items) {
		return OutcomesAnswer{}, fmt.Errorf("central outcomes: %w: %d rejections for %d items", ErrBadResponse, len(r.Rejected), len(items))
	}
	return r, nil
}

// CheckpointPost is a checkpoint for the centre to witness, with the
// consistency proof from the last tree it witnessed (OldSize; no proof when
// that is 0 or the same size).
type CheckpointPost struct {
	Checkpoint string   `json:"checkpoint"`
	OldSize    int64    `json:"old_size"`
	Proof      []string `json:"proof"`
}

// Witnessed is the centre's latest cosigned checkpoint for this station.
type Witnessed struct {
	Epoch      int64  `json:"epoch"`
	Size       int64  `json:"size"`
	Root       string `json:"root"`
	Checkpoint string `json:"checkpoint"`
	VKey       string `json:"vkey"`
}

// ErrNotEnrolled: the centre has no enrolment for this station.
var ErrNotEnrolled = errors.New("the centre has no enrolment for this station")

// LatestCheckpoint asks the centre for the last checkpoint it cosigned for
// this station.
func (c *Client) LatestCheckpoint(ctx context.Context) (Witnessed, error) {
	b, err := c.do(ctx, "latest checkpoint", http.MethodGet, "v1/stations/"+url.PathEscape(c.station)+"/checkpoints/latest", nil, "", nil, 30*time.Second)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return Witnessed{}, fmt.Errorf("central latest checkpoint: %w", ErrNotEnrolled)
	}
	if err != nil {
		return Witnessed{}, err
	}
	var w Witnessed
	if err := decodeJSON("latest checkpoint", b, &w); err != nil {
		return Witnessed{}, err
	}
	if w.Epoch < 1 || w.Size < 0 || w.Checkpoint == "" {
		return Witnessed{}, fmt.Errorf("central latest checkpoint: %w: epoch %d size %d", ErrBadResponse, w.Epoch, w.Size)
	}
	return w, nil
}

// WitnessRecord fetches the centre's witness record for this station
// (every enrolment and every checkpoint it cosigned), as JSON: what
// `audit verify --centre` and the page's verification compare the ledger
// with. The answer is bounded like every answer of the centre.
func (c *Client) WitnessRecord(ctx context.Context) ([]byte, error) {
	b, err := c.do(ctx, "witness record", http.MethodGet, "v1/stations/"+url.PathEscape(c.station)+"/checkpoints", nil, "", nil, time.Minute)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == http.StatusNotFound {
		return nil, fmt.Errorf("central witness record: %w", ErrNotEnrolled)
	}
	return b, err
}

// Enrolment opens an enrolment epoch at the centre.
type Enrolment struct {
	Epoch      int64  `json:"epoch"`
	VKey       string `json:"vkey"`
	Checkpoint string `json:"checkpoint"`
	Actor      string `json:"actor"`
	Reason     string `json:"reason"`
}

// EnrolAnswer is the centre's answer to an enrolment.
type EnrolAnswer struct {
	Cosigned       string   `json:"cosigned"`
	Epoch          int64    `json:"epoch"`
	JobsInQuestion []string `json:"jobs_in_question"`
}

// Enrol posts an enrolment; idemKey makes a retry harmless.
func (c *Client) Enrol(ctx context.Context, idemKey string, e Enrolment) (EnrolAnswer, error) {
	b, err := c.do(ctx, "enrolment", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/enrolment", nil, idemKey, e, time.Minute)
	if err != nil {
		return EnrolAnswer{}, err
	}
	var r EnrolAnswer
	if err := decodeJSON("enrolment", b, &r); err != nil {
		return EnrolAnswer{}, err
	}
	if r.Cosigned == "" {
		return EnrolAnswer{}, fmt.Errorf("central enrolment: %w: no cosigned note", ErrBadResponse)
	}
	return r, nil
}

// PostCheckpoint asks the centre to witness a signed checkpoint note; it
// returns the note with the centre's signature added. A 409 *HTTPError
// carries the size the centre holds (rollback, fork, or a proof from the
// wrong size).
func (c *Client) PostCheckpoint(ctx context.Context, idemKey string, cp CheckpointPost) (string, error) {
	if cp.Proof == nil {
		cp.Proof = []string{}
	}
	b, err := c.do(ctx, "checkpoint", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/checkpoints", nil, idemKey, cp, time.Minute)
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

// PostStock sends a stock report (JSON made by the inventory) and returns
// the centre's reference for it ("" from a centre that gives none).
func (c *Client) PostStock(ctx context.Context, idemKey string, report []byte) (string, error) {
	if !json.Valid(report) {
		return "", errors.New("central stock: report is not JSON")
	}
	b, err := c.do(ctx, "stock", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/stock", nil, idemKey, report, time.Minute)
	if err != nil {
		return "", err
	}
	var r struct {
		OK  bool   `json:"ok"`
		Ref string `json:"ref"`
	}
	if err := decodeJSON("stock", b, &r); err != nil {
		return "", err
	}
	if !r.OK {
		return "", fmt.Errorf("central stock: %w: ok is false", ErrBadResponse)
	}
	if !printable(r.Ref) || len(r.Ref) > MaxCentreRef {
		return "", fmt.Errorf("central stock: %w: reference is not a short printable text", ErrBadResponse)
	}
	return r.Ref, nil
}

// MaxCentreRef bounds a reference the centre gives a report.
const MaxCentreRef = 100

// PostBlankRequest sends a request for more blanks (JSON made by the
// station) and returns the centre's reference for it. idemKey is the
// request's own id: a retry is the same request, never a second one.
func (c *Client) PostBlankRequest(ctx context.Context, idemKey string, request []byte) (string, error) {
	if !json.Valid(request) {
		return "", errors.New("central blank request: request is not JSON")
	}
	b, err := c.do(ctx, "blank request", http.MethodPost, "v1/stations/"+url.PathEscape(c.station)+"/blank-requests", nil, idemKey, request, time.Minute)
	if err != nil {
		return "", err
	}
	var r struct {
		Ref string `json:"ref"`
	}
	if err := decodeJSON("blank request", b, &r); err != nil {
		return "", err
	}
	if r.Ref == "" || !printable(r.Ref) || len(r.Ref) > MaxCentreRef {
		return "", fmt.Errorf("central blank request: %w: no reference, or not a short printable text", ErrBadResponse)
	}
	return r.Ref, nil
}
