package localapi

import (
	"time"

	"printstation/printer"
	"printstation/station/guide"
)

// GET /v1/printers/{name}/health: what the technician's page shows of a
// printer (printstationctl printer health prints it).

// PrinterHealth is what the technician's page shows of one printer: its
// identity, supplies, counters, sensors and cleaning, its encoder's last
// chip write, and the guidance row for its present state.
type PrinterHealth struct {
	Name  string       `json:"name"`
	State PrinterState `json:"state"`
	Guide guide.Guide  `json:"-"`
	// Read is when the printer was last read; Stale says the printer was
	// busy with a card now, so these are the last readings.
	Read  time.Time `json:"read"`
	Stale bool      `json:"stale,omitempty"`
	// Errors are the readings that failed, by step.
	Errors   []string          `json:"errors,omitempty"`
	Info     *printer.Info     `json:"info,omitempty"`
	Status   *printer.Status   `json:"status,omitempty"`
	Counters *printer.Counters `json:"counters,omitempty"`
	Sensors  []printer.Sensor  `json:"sensors,omitempty"`
	Cleaning *CleaningState    `json:"cleaning,omitempty"`
	// Encoder is the printer's chip encoder: the configured reader and its
	// last chip write (nil before the first).
	EncoderReader string      `json:"encoder_reader,omitempty"`
	EncoderLast   *EncoderUse `json:"encoder_last,omitempty"`
}

// CleaningMark is a recorded cleaning (or the first reading).
type CleaningMark struct {
	At            time.Time `json:"at"`
	Actor         string    `json:"actor"`
	How           string    `json:"how"`
	CardsInserted int64     `json:"cards_inserted"`
	Cleanings     int64     `json:"cleanings"`
}

// CleaningState is a printer's place in the cleaning policy.
type CleaningState struct {
	WarnAt int   `json:"warn_at"` // 0: the policy is off
	StopAt int   `json:"stop_at"`
	Since  int64 `json:"since"` // cards since the last cleaning (or first reading); -1 unknown
	// Recorded counts the cleanings the station recorded (not first_seen).
	Recorded int64         `json:"recorded"`
	Last     *CleaningMark `json:"last,omitempty"`
	Soon     bool          `json:"soon"` // at or past WarnAt
	Due      bool          `json:"due"`  // at or past StopAt: no blank is fed
}

// EncoderUse is the encoder's last chip write.
type EncoderUse struct {
	At     time.Time `json:"at"`
	Millis float64   `json:"ms"`
	APDUs  int       `json:"apdus"`
	ATR    string    `json:"atr,omitempty"` // hex, the card type's answer to reset (no personal data)
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
}
