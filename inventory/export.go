package inventory

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// ExportRecord is one event as exported: the event fields, its place and
// time, and its leaf hash so a reader can check it against a checkpoint.
type ExportRecord struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Station string    `json:"station"`
	Event
	LeafHash string `json:"leaf_hash"`
}

var csvHeader = []string{"seq", "at", "station", "kind", "actor", "printer", "quantity", "delivery_ref", "serial_first",
	"serial_last", "job", "uid", "reason", "uids", "witnesses", "record_ref", "approvers", "location", "counted",
	"cards_inserted", "leaf_hash"}

var peopleCSVHeader = []string{"seq", "at", "station", "kind", "actor", "action", "subject", "via", "roles",
	"printer", "job", "reason", "witnesses", "leaf_hash"}

// The logs an auditor can export from the one tree.
const (
	LogBlanks = "blanks" // what happened to blank cards
	LogPeople = "people" // sign-ins, account changes, reloads and people's actions
)

// Export writes the blank events with from <= at < to (zero times:
// unbounded) as "csv" or "json". Lists inside a CSV cell are joined with
// ";", counted quantities as location=n.
func Export(ctx context.Context, ex storage.Execer, w io.Writer, format string, from, to time.Time) error {
	return ExportLog(ctx, ex, w, format, LogBlanks, from, to)
}

// logQuery selects (seq, data) of one log's events with from <= at < to
// (zero times: unbounded); the caller adds the order and any limit.
func logQuery(log string, from, to time.Time) (string, []any, error) {
	var names []string
	for _, k := range PeopleKinds() {
		names = append(names, "'"+string(k)+"'")
	}
	q := `SELECT seq, data FROM ledger_events WHERE kind `
	switch log {
	case LogBlanks:
		q += `NOT IN (` + strings.Join(names, ",") + `)`
	case LogPeople:
		q += `IN (` + strings.Join(names, ",") + `)`
	default:
		return "", nil, fmt.Errorf("log %q: use %s or %s", log, LogBlanks, LogPeople)
	}
	var args []any
	if !from.IsZero() {
		q += ` AND at >= ?`
		args = append(args, formatTime(from))
	}
	if !to.IsZero() {
		q += ` AND at < ?`
		args = append(args, formatTime(to))
	}
	return q, args, nil
}

// ExportLog is Export of one log: LogBlanks or LogPeople.
func ExportLog(ctx context.Context, ex storage.Execer, w io.Writer, format, log string, from, to time.Time) error {
	if format != "csv" && format != "json" {
		return fmt.Errorf("inventory: export: format %q: use csv or json", format)
	}
	q, args, err := logQuery(log, from, to)
	if err != nil {
		return fmt.Errorf("inventory: export: %w", err)
	}
	header, row := csvHeader, csvRow
	if log == LogPeople {
		header, row = peopleCSVHeader, peopleCSVRow
	}
	rows, err := ex.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return fmt.Errorf("inventory: export: read events: %w", err)
	}
	defer rows.Close()
	cw := csv.NewWriter(w)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if format == "csv" {
		if err := cw.Write(header); err != nil {
			return fmt.Errorf("inventory: export: %w", err)
		}
	} else if _, err := io.WriteString(w, "["); err != nil {
		return fmt.Errorf("inventory: export: %w", err)
	}
	first := true
	for rows.Next() {
		var seq int64
		var data []byte
		if err := rows.Scan(&seq, &data); err != nil {
			return fmt.Errorf("inventory: export: read event: %w", err)
		}
		e, err := ParseEntry(data)
		if err != nil {
			return fmt.Errorf("inventory: export: event seq %d: %w (run audit verify)", seq, err)
		}
		r := ExportRecord{Seq: e.Seq, At: e.At, Station: e.Station, Event: e.Event, LeafHash: tlog.RecordHash(data).String()}
		if format == "csv" {
			if err := cw.Write(row(r)); err != nil {
				return fmt.Errorf("inventory: export: %w", err)
			}
			continue
		}
		sep := ",\n"
		if first {
			sep = "\n"
		}
		first = false
		if _, err := io.WriteString(w, sep); err != nil {
			return fmt.Errorf("inventory: export: %w", err)
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("inventory: export: event seq %d: %w", seq, err)
		}
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("inventory: export: %w", err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("inventory: export: read events: %w", err)
	}
	if format == "csv" {
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("inventory: export: %w", err)
		}
		return nil
	}
	if _, err := io.WriteString(w, "\n]\n"); err != nil {
		return fmt.Errorf("inventory: export: %w", err)
	}
	return nil
}

func csvRow(r ExportRecord) []string {
	num := func(n int64) string {
		if n == 0 {
			return ""
		}
		return strconv.FormatInt(n, 10)
	}
	var counted []string
	for _, k := range sortedKeys(r.Counted) {
		counted = append(counted, k+"="+strconv.FormatInt(r.Counted[k], 10))
	}
	cards := ""
	if r.Kind == CounterReading {
		cards = strconv.FormatInt(r.CardsInserted, 10)
	}
	return []string{strconv.FormatInt(r.Seq, 10), formatTime(r.At), r.Station, string(r.Kind), r.Actor, r.Printer,
		num(r.Quantity), r.DeliveryRef, r.SerialFirst, r.SerialLast, r.Job, r.UID, r.Reason,
		strings.Join(r.UIDs, ";"), strings.Join(r.Witnesses, ";"), r.RecordRef, strings.Join(r.Approvers, ";"),
		r.Location, strings.Join(counted, ";"), cards, r.LeafHash}
}

func peopleCSVRow(r ExportRecord) []string {
	return []string{strconv.FormatInt(r.Seq, 10), formatTime(r.At), r.Station, string(r.Kind), r.Actor, r.Action,
		r.Subject, r.Via, strings.Join(r.Roles, ";"), r.Printer, r.Job, r.Reason, strings.Join(r.Witnesses, ";"), r.LeafHash}
}
