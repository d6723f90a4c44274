// Package ipp drives a card printer through a print queue that speaks IPP:
// a CUPS queue set up with the printer maker's Linux driver, or an IPP
// Everywhere printer. The wire protocol is RFC 8010/8011, encoded with
// github.com/OpenPrinting/goipp.
//
// A queue prints whole cards: the station hands it the card's face(s) as a
// document (PNG at 300 dpi for one side, a two-page PDF of card size with
// sides=two-sided-long-edge when there is a back), then follows the job to
// completed, aborted or cancelled. It cannot feed a blank, park a card at
// an encoder or reject a card, so the chip is written on a separate desk
// reader (the engine's encoder = "desk" flow) and the Driver methods that
// move cards refuse with a typed error that says so.
//
// Printer state and printer-state-reasons are turned into the same typed
// errors as the Evolis driver (printer.Kind): media-empty → feeder empty,
// cover-open → cover open, marker-supply-empty → ribbon out, media-jam →
// jam, a stopped or paused queue → printer.KindStopped. Marker levels and
// the queue's counters are read as the queue reports them.
//
// Every request is bounded by a deadline and every reply by a size.
package ipp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/OpenPrinting/goipp"
	"github.com/rs/zerolog"

	"printstation/printer"
	"printstation/printer/raster"
)

// Name is the driver's name in the printer registry.
const Name = "ipp"

func init() {
	printer.RegisterDriver(Name, func(ctx context.Context, a printer.Addr, _ printer.Dialer, opts printer.Options) (printer.Driver, error) {
		if a.Scheme != "ipp" && a.Scheme != "ipps" {
			return nil, fmt.Errorf("printer %s: the ipp driver needs an ipp:// or ipps:// address, not %s", opts.Name, a)
		}
		return Open(ctx, a.String(), opts)
	})
	// The driver speaks HTTP itself; the transports are registered so that
	// printer.Open accepts the schemes, and they refuse byte pipes.
	for _, scheme := range []string{"ipp", "ipps"} {
		printer.RegisterTransport(scheme, func(ctx context.Context, a printer.Addr) (printer.Conn, error) {
			return nil, fmt.Errorf("printer %s: an IPP queue is spoken to by the ipp driver (driver = \"ipp\"), not through a byte pipe", a)
		})
	}
}

// Limits on what the queue may send back.
const (
	maxReply   = 1 << 20 // an IPP reply (attributes only)
	maxMarkers = 32
)

// Driver is one IPP print queue.
type Driver struct {
	name   string
	uri    string // ipp://…, as the queue knows itself
	http   string // http://… or https://…, where requests go
	client *http.Client
	t      printer.Timeouts
	poll   time.Duration
	log    zerolog.Logger

	mu     sync.Mutex
	reqID  uint32
	closed bool
}

// Open checks the address; it does not talk to the queue (the engine's
// ready check and every call do, each bounded).
func Open(ctx context.Context, uri string, opts printer.Options) (*Driver, error) {
	a, err := printer.ParseAddr(uri)
	if err != nil {
		return nil, err
	}
	if a.Scheme != "ipp" && a.Scheme != "ipps" {
		return nil, fmt.Errorf("printer address %q: the ipp driver needs ipp://HOST[:PORT]/PATH", uri)
	}
	httpURL := "http://" + a.Host + a.Path
	if a.Scheme == "ipps" {
		httpURL = "https://" + a.Host + a.Path
	}
	if _, _, err := net.SplitHostPort(a.Host); err != nil {
		// IPP's registered port, as CUPS uses it.
		if a.Scheme == "ipps" {
			httpURL = "https://" + a.Host + ":443" + a.Path
		} else {
			httpURL = "http://" + a.Host + ":631" + a.Path
		}
	}
	name := opts.Name
	if name == "" {
		name = uri
	}
	t := opts.Timeouts
	if t.Print <= 0 {
		// A queue takes the whole card: render, transfer and the printer's
		// own 20 s or so. Two minutes bounds a card that never finishes.
		t.Print = 2 * time.Minute
	}
	t = t.WithDefaults()
	if t.Read < 5*time.Second {
		t.Read = 5 * time.Second // cupsd answers slowly while it starts a job
	}
	return &Driver{
		name:   name,
		uri:    a.String(),
		http:   httpURL,
		client: &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}},
		t:      t,
		poll:   200 * time.Millisecond,
		log:    opts.Log,
	}, nil
}

// SetPoll sets how often a job is looked at while it prints (tests,
// benchmarks); the default is 200 ms.
func (d *Driver) SetPoll(p time.Duration) {
	if p > 0 {
		d.poll = p
	}
}

// Close ends idle connections.
func (d *Driver) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.client.CloseIdleConnections()
	return nil
}

func (d *Driver) fail(op string, k printer.Kind, detail string, err error) error {
	return &printer.Error{Printer: d.name, Op: op, Kind: k, Position: printer.PositionUnknown, Detail: detail, Err: err}
}

// request sends one IPP operation with an optional document and returns the
// decoded reply. A reply whose status is not successful is an error of kind
// KindRefused naming the status, unless the caller accepts it (ok).
func (d *Driver) request(ctx context.Context, op goipp.Op, timeout time.Duration, build func(m *goipp.Message), doc []byte) (*goipp.Message, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, d.fail(op.String(), printer.KindDisconnected, "driver closed", nil)
	}
	d.reqID++
	id := d.reqID
	d.mu.Unlock()

	m := goipp.NewRequest(goipp.DefaultVersion, op, id)
	m.Operation.Add(goipp.MakeAttribute("attributes-charset", goipp.TagCharset, goipp.String("utf-8")))
	m.Operation.Add(goipp.MakeAttribute("attributes-natural-language", goipp.TagLanguage, goipp.String("en")))
	m.Operation.Add(goipp.MakeAttribute("printer-uri", goipp.TagURI, goipp.String(d.uri)))
	m.Operation.Add(goipp.MakeAttribute("requesting-user-name", goipp.TagName, goipp.String("printstation")))
	if build != nil {
		build(m)
	}
	head, err := m.EncodeBytes()
	if err != nil {
		return nil, d.fail(op.String(), printer.KindProtocol, "encoding the request", err)
	}
	body := io.MultiReader(bytes.NewReader(head), bytes.NewReader(doc))

	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.http, body)
	if err != nil {
		return nil, d.fail(op.String(), printer.KindOther, "", err)
	}
	req.ContentLength = int64(len(head) + len(doc))
	req.Header.Set("Content-Type", goipp.ContentType)
	resp, err := d.client.Do(req)
	if err != nil {
		k := printer.KindDisconnected
		if rctx.Err() != nil {
			k = printer.KindTimeout
		}
		return nil, d.fail(op.String(), k, "queue "+d.uri+" did not answer", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
		k := printer.KindRefused
		if resp.StatusCode == http.StatusNotFound {
			return nil, d.fail(op.String(), k, fmt.Sprintf("HTTP %d: no queue at %s; check the queue name (lpstat -v)", resp.StatusCode, d.uri), nil)
		}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, d.fail(op.String(), k, fmt.Sprintf("HTTP %d: the queue wants a user the station does not have; allow printing from this machine without a password (cupsd.conf)", resp.StatusCode), nil)
		}
		if resp.StatusCode >= 500 {
			k = printer.KindBusy
		}
		return nil, d.fail(op.String(), k, fmt.Sprintf("HTTP %d from %s", resp.StatusCode, d.uri), nil)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		k := printer.KindDisconnected
		if rctx.Err() != nil {
			k = printer.KindTimeout
		}
		return nil, d.fail(op.String(), k, "reading the reply", err)
	}
	if len(data) > maxReply {
		return nil, d.fail(op.String(), printer.KindProtocol, fmt.Sprintf("reply larger than %d bytes", maxReply), nil)
	}
	var r goipp.Message
	if err := r.DecodeBytes(data); err != nil {
		return nil, d.fail(op.String(), printer.KindProtocol, "not an IPP reply", err)
	}
	if st := goipp.Status(r.Code); st > 0xff { // 0x0000–0x00ff are successful-*
		msg := attrString(r.Operation, "status-message")
		return &r, &statusError{op: op, status: st, msg: msg}
	}
	return &r, nil
}

// statusError is an IPP status that is not successful.
type statusError struct {
	op     goipp.Op
	status goipp.Status
	msg    string
}

func (e *statusError) Error() string {
	s := e.op.String() + ": " + e.status.String()
	if e.msg != "" {
		s += " (" + e.msg + ")"
	}
	return s
}

func (d *Driver) statusFail(op string, err error) error {
	var se *statusError
	if !errors.As(err, &se) {
		return err
	}
	k := printer.KindRefused
	switch se.status {
	case goipp.StatusErrorNotAcceptingJobs, goipp.StatusErrorPrinterIsDeactivated:
		k = printer.KindStopped
	case goipp.StatusErrorBusy, goipp.StatusErrorServiceUnavailable, goipp.StatusErrorTemporary:
		k = printer.KindBusy
	case goipp.StatusErrorNotFound:
		return d.fail(op, k, "the queue does not know this job or printer: "+se.Error(), nil)
	}
	return d.fail(op, k, se.Error(), nil)
}

// attribute readers: the first value of a named attribute.

func find(attrs goipp.Attributes, name string) (goipp.Values, bool) {
	for _, a := range attrs {
		if a.Name == name {
			return a.Values, true
		}
	}
	return nil, false
}

func attrString(attrs goipp.Attributes, name string) string {
	v, ok := find(attrs, name)
	if !ok || len(v) == 0 {
		return ""
	}
	return v[0].V.String()
}

func attrStrings(attrs goipp.Attributes, name string) []string {
	v, _ := find(attrs, name)
	out := make([]string, 0, len(v))
	for _, x := range v {
		out = append(out, x.V.String())
	}
	return out
}

func attrInt(attrs goipp.Attributes, name string) (int, bool) {
	v, ok := find(attrs, name)
	if !ok || len(v) == 0 {
		return 0, false
	}
	switch x := v[0].V.(type) {
	case goipp.Integer:
		return int(x), true
	}
	return 0, false
}

func attrInts(attrs goipp.Attributes, name string) []int {
	v, _ := find(attrs, name)
	out := make([]int, 0, len(v))
	for _, x := range v {
		if i, ok := x.V.(goipp.Integer); ok {
			out = append(out, int(i))
		}
	}
	return out
}

func attrBool(attrs goipp.Attributes, name string) (bool, bool) {
	v, ok := find(attrs, name)
	if !ok || len(v) == 0 {
		return false, false
	}
	b, ok := v[0].V.(goipp.Boolean)
	return bool(b), ok
}

// Marker is one supply the queue reports (ribbon, film, cleaning roller).
type Marker struct {
	Name  string `json:"name"`
	Type  string `json:"type,omitempty"`
	Color string `json:"color,omitempty"`
	// Level is the percentage left, or -1 unknown, -2 unknown but not
	// empty, -3 some left (RFC 3805's conventions, as CUPS passes them).
	Level int `json:"level"`
	Low   int `json:"low_level,omitempty"`
	High  int `json:"high_level,omitempty"`
}

// QueueState is what the queue says about itself.
type QueueState struct {
	URI       string   `json:"uri"`
	State     string   `json:"state"` // idle, processing, stopped
	Reasons   []string `json:"reasons"`
	Message   string   `json:"message,omitempty"`
	Accepting bool     `json:"accepting_jobs"`
	Queued    int      `json:"queued_jobs"`
	Markers   []Marker `json:"markers,omitempty"`
	// Impressions and sheets the printer has completed over its life, when
	// the queue reports them (-1 when not).
	Impressions int64 `json:"impressions_completed"`
	Sheets      int64 `json:"media_sheets_completed"`

	Model    string   `json:"model,omitempty"`
	Formats  []string `json:"document_formats,omitempty"`
	Sides    []string `json:"sides,omitempty"`
	DeviceID string   `json:"device_id,omitempty"`
	UUID     string   `json:"uuid,omitempty"`
	Firmware string   `json:"firmware,omitempty"`
	// CardMedia is the queue's media keyword of card size (CR80, 85.6 ×
	// 54 mm), "" when it lists none.
	CardMedia string `json:"card_media,omitempty"`
}

var printerAttrs = []string{
	"printer-state", "printer-state-reasons", "printer-state-message", "printer-is-accepting-jobs",
	"queued-job-count", "printer-make-and-model", "printer-device-id", "printer-uuid",
	"printer-firmware-string-version", "document-format-supported", "sides-supported",
	"media-supported", "media-size-supported",
	"marker-names", "marker-types", "marker-colors", "marker-levels", "marker-low-levels", "marker-high-levels",
	"printer-impressions-completed", "printer-media-sheets-completed",
}

// Queue reads the queue's state, reasons, markers and counters.
func (d *Driver) Queue(ctx context.Context) (QueueState, error) {
	r, err := d.request(ctx, goipp.OpGetPrinterAttributes, d.t.Read, func(m *goipp.Message) {
		var v goipp.Values
		for _, a := range printerAttrs {
			v.Add(goipp.TagKeyword, goipp.String(a))
		}
		m.Operation.Add(goipp.Attribute{Name: "requested-attributes", Values: v})
	}, nil)
	if err != nil {
		return QueueState{}, d.statusFail("read printer state", err)
	}
	p := r.Printer
	q := QueueState{URI: d.uri, Impressions: -1, Sheets: -1}
	st, ok := attrInt(p, "printer-state")
	if !ok {
		return q, d.fail("read printer state", printer.KindProtocol, "the queue did not say its printer-state", nil)
	}
	q.State = map[int]string{3: "idle", 4: "processing", 5: "stopped"}[st]
	if q.State == "" {
		q.State = fmt.Sprintf("state %d", st)
	}
	q.Reasons = attrStrings(p, "printer-state-reasons")
	q.Message = attrString(p, "printer-state-message")
	q.Accepting, _ = attrBool(p, "printer-is-accepting-jobs")
	q.Queued, _ = attrInt(p, "queued-job-count")
	q.Model = attrString(p, "printer-make-and-model")
	q.DeviceID = attrString(p, "printer-device-id")
	q.UUID = attrString(p, "printer-uuid")
	q.Firmware = attrString(p, "printer-firmware-string-version")
	q.Formats = attrStrings(p, "document-format-supported")
	q.Sides = attrStrings(p, "sides-supported")
	if n, ok := attrInt(p, "printer-impressions-completed"); ok {
		q.Impressions = int64(n)
	}
	if n, ok := attrInt(p, "printer-media-sheets-completed"); ok {
		q.Sheets = int64(n)
	}
	q.CardMedia = cardMedia(attrStrings(p, "media-supported"))

	names := attrStrings(p, "marker-names")
	types := attrStrings(p, "marker-types")
	colors := attrStrings(p, "marker-colors")
	levels := attrInts(p, "marker-levels")
	lows := attrInts(p, "marker-low-levels")
	highs := attrInts(p, "marker-high-levels")
	for i := 0; i < len(names) && i < maxMarkers; i++ {
		mk := Marker{Name: names[i], Level: -1}
		if i < len(types) {
			mk.Type = types[i]
		}
		if i < len(colors) {
			mk.Color = colors[i]
		}
		if i < len(levels) {
			mk.Level = levels[i]
		}
		if i < len(lows) {
			mk.Low = lows[i]
		}
		if i < len(highs) {
			mk.High = highs[i]
		}
		q.Markers = append(q.Markers, mk)
	}
	return q, nil
}

// cardMedia picks a media keyword of ID-1 card size (85.60 × 53.98 mm)
// from the queue's list: self-describing PWG names carry the size
// ("om_cr80_53.98x85.6mm", "custom_card_85.6x54mm"), CUPS card drivers
// often call it "CR80".
func cardMedia(media []string) string {
	for _, m := range media {
		l := strings.ToLower(m)
		if strings.Contains(l, "cr80") || strings.Contains(l, "85.6x53.98mm") || strings.Contains(l, "53.98x85.6mm") ||
			strings.Contains(l, "85.6x54mm") || strings.Contains(l, "54x85.6mm") {
			return m
		}
	}
	return ""
}

// reasonKinds maps printer-state-reasons keywords (RFC 8011 §5.4.12, PWG
// 5100.9), without their -error/-warning/-report suffix, to what a person
// has to do. Order matters: the first fault found names the error.
var reasonKinds = []struct {
	reason string
	kind   printer.Kind
}{
	{"media-jam", printer.KindJam},
	{"input-tray-missing", printer.KindFeederEmpty},
	{"media-empty", printer.KindFeederEmpty},
	{"media-needed", printer.KindFeederEmpty},
	{"cover-open", printer.KindCoverOpen},
	{"door-open", printer.KindCoverOpen},
	{"interlock-open", printer.KindCoverOpen},
	{"marker-supply-empty", printer.KindRibbonOut},
	{"toner-empty", printer.KindRibbonOut},
	{"marker-supply-missing", printer.KindRibbonOut},
	{"media-type-mismatch", printer.KindRibbonMismatch}, // ribbon and card stock pairing
	{"output-area-full", printer.KindOutputFull},
	{"output-tray-missing", printer.KindOutputFull},
	{"marker-waste-full", printer.KindRejectFull},
	{"cleaner-life-over", printer.KindNeedsCleaning},
	{"fuser-over-temp", printer.KindHead},
	{"fuser-under-temp", printer.KindHead},
	{"spool-area-full", printer.KindBusy},
	{"connecting-to-device", printer.KindDisconnected},
	{"offline", printer.KindDisconnected},
	{"timed-out", printer.KindDisconnected},
	{"shutdown", printer.KindDisconnected},
	{"paused", printer.KindStopped},
	{"moving-to-paused", printer.KindStopped},
	{"stopped-partly", printer.KindStopped},
	{"stopping", printer.KindStopped},
}

// base strips RFC 8011's severity suffix.
func base(reason string) string {
	for _, s := range []string{"-error", "-warning", "-report"} {
		if strings.HasSuffix(reason, s) {
			return strings.TrimSuffix(reason, s)
		}
	}
	return reason
}

// Fault is the first reason that stops cards, with its kind. It is fail
// closed: a fault keyword counts whatever its severity suffix, because
// queues disagree on severities (ippeveprinter reports an empty feeder as
// "-report" while idle and "-warning" while printing, CUPS backends as
// "-error"), and a card printer out of cards prints no card.
func (q QueueState) Fault() (printer.Kind, string, bool) {
	for _, rk := range reasonKinds {
		for _, r := range q.Reasons {
			if base(r) == rk.reason {
				return rk.kind, r, true
			}
		}
	}
	if q.State == "stopped" {
		why := strings.Join(q.Reasons, ",")
		if why == "" || why == "none" {
			why = "stopped"
		}
		if q.Message != "" {
			why += ": " + q.Message
		}
		return printer.KindStopped, why, true
	}
	if !q.Accepting {
		return printer.KindStopped, "the queue is not accepting jobs (cupsaccept NAME)", true
	}
	return printer.KindOther, "", false
}

// fault turns the queue's state into a typed error for op, nil when
// nothing stops a card.
func (d *Driver) fault(op string, q QueueState) error {
	k, why, bad := q.Fault()
	if !bad {
		return nil
	}
	detail := why
	if q.Message != "" && !strings.Contains(why, q.Message) {
		detail += ": " + q.Message
	}
	return d.fail(op, k, detail, nil)
}

// Info names the queue's printer.
func (d *Driver) Info(ctx context.Context) (printer.Info, error) {
	q, err := d.Queue(ctx)
	if err != nil {
		return printer.Info{}, err
	}
	serial := q.UUID
	for _, kv := range strings.Split(q.DeviceID, ";") {
		if k, v, ok := strings.Cut(kv, ":"); ok && (k == "SN" || k == "SERN") {
			serial = v
		}
	}
	return printer.Info{Driver: Name, Addr: d.uri, Model: q.Model, Serial: serial, Firmware: q.Firmware, DeviceID: q.DeviceID}, nil
}

// Status is the queue's state in the engine's words. A queue does not say
// where a card is: Card is PositionNone unless a jam is reported.
func (d *Driver) Status(ctx context.Context) (printer.Status, error) {
	q, err := d.Queue(ctx)
	if err != nil {
		return printer.Status{}, err
	}
	s := printer.Status{Ready: true, Card: printer.PositionNone}
	for _, r := range q.Reasons {
		switch base(r) {
		case "cover-open", "door-open", "interlock-open":
			s.CoverOpen = true
		case "media-empty", "media-needed", "input-tray-missing":
			s.FeederEmpty = true
		case "marker-supply-empty", "toner-empty", "marker-supply-missing":
			s.RibbonOut = true
		case "cleaner-life-over":
			s.NeedsCleaning = true
		case "media-jam":
			s.Card = printer.PositionUnknown
		}
	}
	if k, why, bad := q.Fault(); bad {
		s.Ready = false
		s.Problems = append(s.Problems, fmt.Sprintf("%s (%s) — %s", k, why, adviceOf(k)))
	}
	return s, nil
}

func adviceOf(k printer.Kind) string {
	e := &printer.Error{Kind: k}
	msg := e.Error()
	if i := strings.LastIndex(msg, " — "); i >= 0 {
		return msg[i+len(" — "):]
	}
	return msg
}

// Counters reads the printer's life counters as the queue reports them:
// CardsInserted is printer-media-sheets-completed (or impressions), -1
// when the queue reports neither; RibbonLeft is the first ribbon marker's
// level in percent, -1 when unknown.
func (d *Driver) Counters(ctx context.Context) (printer.Counters, error) {
	q, err := d.Queue(ctx)
	if err != nil {
		return printer.Counters{}, err
	}
	c := printer.Counters{CardsInserted: q.Sheets, PanelsPrinted: q.Impressions, RibbonLeft: -1}
	if c.CardsInserted < 0 {
		c.CardsInserted = q.Impressions
	}
	for _, m := range q.Markers {
		if m.Level >= 0 {
			c.RibbonLeft = int64(m.Level)
			break
		}
	}
	return c, nil
}

// refuse answers the Driver calls that move a card inside the printer: a
// queue cannot, and silently doing nothing would let the engine believe a
// blank is at the encoder.
func (d *Driver) refuse(op string) error {
	return d.fail(op, printer.KindRefused, "an IPP queue prints whole cards and cannot "+op+"; configure this printer with encoder = \"desk\"", nil)
}

func (d *Driver) Feed(context.Context) error { return d.refuse("feed a blank") }
func (d *Driver) MoveTo(_ context.Context, st printer.Station) error {
	return d.refuse("move a card to the " + st.String() + " station")
}
func (d *Driver) Print(context.Context, printer.Side, *raster.Panels) error {
	return d.refuse("print one panel set of a fed card")
}
func (d *Driver) Eject(context.Context) error  { return d.refuse("eject a card") }
func (d *Driver) Reject(context.Context) error { return d.refuse("reject a card") }
