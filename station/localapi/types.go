package localapi

import "time"

// The JSON documents of the local API. The engine fills them (station
// aliases each one), printstationctl and scripts read them.

// BatchState is one batch's line in the status report.
type BatchState struct {
	ID        string         `json:"id"`
	State     string         `json:"state"` // new, started, paused, cancelled, done
	Total     int            `json:"total"`
	Printed   int            `json:"printed"`
	Remaining int            `json:"remaining"`
	Waiting   int            `json:"waiting"` // jobs that wait for a person
	ByState   map[string]int `json:"by_state"`
}

// StockState is the ledger's stock in the status report.
type StockState struct {
	Storage         int64            `json:"storage"`
	Printers        map[string]int64 `json:"printers"`
	Consumed        int64            `json:"consumed"`
	SpoiledAwaiting int64            `json:"spoiled_awaiting_destruction"`
	Low             bool             `json:"low"`
	// Available is storage plus printers; LowAt the level under which Low
	// is set (0: no level configured).
	Available int64 `json:"available"`
	LowAt     int64 `json:"low_at,omitempty"`
	// PerDay is the use (consumed, spoiled, test cards) per day over the
	// last ForecastDays days; DaysLeft is Available at that pace, and only
	// set when there was use to measure (a new station has no estimate).
	PerDay       float64 `json:"per_day"`
	ForecastDays int     `json:"forecast_days,omitempty"`
	DaysLeft     float64 `json:"days_left,omitempty"`
}

// StockOp records a stock operation by a person (receive, load, unload).
type StockOp struct {
	Op          string           `json:"op"` // receive, load, unload, destroy, adjust, shift-close
	Quantity    int64            `json:"quantity"`
	Printer     string           `json:"printer,omitempty"`
	DeliveryRef string           `json:"delivery_ref,omitempty"`
	SerialFirst string           `json:"serial_first,omitempty"`
	SerialLast  string           `json:"serial_last,omitempty"`
	UIDs        []string         `json:"uids,omitempty"`      // destroy
	Witnesses   []string         `json:"witnesses,omitempty"` // destroy: two; shift-close: one
	RecordRef   string           `json:"record_ref,omitempty"`
	Approvers   []string         `json:"approvers,omitempty"` // adjust: two different people
	Location    string           `json:"location,omitempty"`  // adjust: storage or printer:NAME
	Reason      string           `json:"reason,omitempty"`
	Counted     map[string]int64 `json:"counted,omitempty"` // shift-close: location → counted
	Actor       string           `json:"actor"`
}

// Attention is a job that waits for a person.
type Attention struct {
	Job     string `json:"job"`
	Batch   string `json:"batch"`
	State   string `json:"state"`
	Printer string `json:"printer,omitempty"`
	Reason  string `json:"reason"`
	Code    string `json:"code,omitempty"` // what a person must do, for the web page (station/codes.go)
}

// PrinterState is one printer's line in the status report.
type PrinterState struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Code    string `json:"code,omitempty"` // what a person must do, for the web page (station/codes.go)
	Message string `json:"message,omitempty"`
	Job     string `json:"job,omitempty"`
	Printed int    `json:"printed"`
	Spoiled int    `json:"spoiled"`
	Loaded  int64  `json:"loaded"` // blanks the ledger has in this printer
	// CleaningSoon: the printer went engine.clean_warn_cards cards since
	// its last cleaning; it stops at clean_stop_cards (code cleaning_due).
	CleaningSoon bool `json:"cleaning_soon,omitempty"`
	// Desk is the operator's step at a desk-encoder printer (encoder =
	// "desk"), nil for others. It carries no personal data.
	Desk *DeskStep `json:"desk,omitempty"`
}

// DeskStep is what a desk-encoder printer asks of the operator now.
type DeskStep struct {
	// Step: place_blank, writing, to_feed, printing, tap_back, put_aside,
	// or "" (between cards).
	Step    string `json:"step"`
	Job     string `json:"job,omitempty"`
	Message string `json:"message,omitempty"`
}

// StatusReport is what `printstationctl status` shows.
type StatusReport struct {
	Station  string         `json:"station"`
	Version  string         `json:"version"`
	State    string         `json:"state"`
	PID      int            `json:"pid"`
	Uptime   string         `json:"uptime"`
	Line     string         `json:"line"`
	Printers []PrinterState `json:"printers"`
	Batches  []BatchState   `json:"batches"`
	Queue    map[string]int `json:"queue"`
	Stock    *StockState    `json:"stock,omitempty"`
	Central  string         `json:"central"`
}

// OutboxMaxLimit bounds how many items one outbox answer lists.
const OutboxMaxLimit = 1000

// OutboxItem is a report the centre has not acknowledged yet (no body: an
// outcome names a chip UID).
type OutboxItem struct {
	Kind      string    `json:"kind"` // outcome, checkpoint, stock
	Key       string    `json:"key"`  // the idempotency key
	CreatedAt time.Time `json:"created_at"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// OutboxReport is what `printstationctl outbox` shows (GET /v1/outbox).
type OutboxReport struct {
	Pending        int          `json:"pending"` // all unacknowledged items
	Items          []OutboxItem `json:"items"`   // the oldest, up to the limit asked
	LastOutcomeAck time.Time    `json:"last_outcome_ack,omitzero"`
}

// Forecast is how long the blanks ready to use last at the recent pace,
// and how that was worked out.
type Forecast struct {
	Available  int64 `json:"available"`   // in storage and in the printers
	WindowDays int   `json:"window_days"` // days of use measured
	// Used is the blanks used (printed, spoiled, test cards) in the last
	// WindowDays days; PerDay is Used / WindowDays.
	Used   int64   `json:"used"`
	PerDay float64 `json:"per_day"`
	// DaysLeft is Available / PerDay, one decimal; -1 when nothing was
	// used in the window (no estimate).
	DaysLeft float64 `json:"days_left"`
}

// BlankRequest is a supervisor's request to the centre for more blanks,
// with the forecast it was made on. ID is the request's own id and its
// idempotency key: the same ID is the same request, however often sent.
type BlankRequest struct {
	ID       string    `json:"id"`
	Station  string    `json:"station"`
	Quantity int64     `json:"quantity"`
	Note     string    `json:"note,omitempty"`
	Actor    string    `json:"actor"`
	At       time.Time `json:"at"`
	Forecast Forecast  `json:"forecast"`
}

// CentreReport is a report for the centre (a stock announcement or a
// request for blanks) and what became of it.
type CentreReport struct {
	Kind      string    `json:"kind"` // "stock" or "blank_request"
	Key       string    `json:"key"`  // its idempotency key
	CreatedAt time.Time `json:"created_at"`
	// State is "waiting" (not acknowledged yet: the link is down or the
	// centre did not answer), "acknowledged" (Ref is the centre's
	// reference) or "refused" (Refused is the centre's reason).
	State     string     `json:"state"`
	Ref       string     `json:"ref,omitempty"`
	AckedAt   *time.Time `json:"acked_at,omitempty"`
	Refused   string     `json:"refused,omitempty"`
	Attempts  int        `json:"attempts"`
	LastError string     `json:"last_error,omitempty"`
	// Request is the request for blanks; Day and By the announcement's
	// day and person.
	Request *BlankRequest `json:"request,omitempty"`
	Day     string        `json:"day,omitempty"`
	By      string        `json:"by,omitempty"`
}
