package station

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/logging"
)

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestJournalMessageIDs(t *testing.T) {
	var buf bytes.Buffer
	e := &Engine{log: zerolog.New(&buf)}
	e.publish(Event{Type: "card_spoiled", Printer: "p1", Job: "J-1", UID: "04A1B2C3", Message: "jam: card stuck"})
	e.publish(Event{Type: "printer_paused", Printer: "p1", Message: "cover open"})
	e.publish(Event{Type: "printer_paused", Printer: "p1", Message: "cover open"}) // the same stop: not again
	e.publish(Event{Type: "printer_offline", Printer: "p2", Message: "no answer"})
	e.publish(Event{Type: "printer_resumed", Printer: "p1"})
	e.publish(Event{Type: "printer_paused", Printer: "p1", Message: "cover open"}) // a new stop after a resume
	e.publish(Event{Type: "card_printed", Printer: "p1", Job: "J-2"})              // not an alert

	lines := logLines(t, &buf)
	var ids []string
	for _, l := range lines {
		ids = append(ids, l[logging.MessageID].(string))
		if strings.Contains(buf.String(), "04A1B2C3") {
			t.Fatal("a chip UID reached the log")
		}
	}
	want := []string{logging.MsgCardSpoiled, logging.MsgPrinterPaused, logging.MsgPrinterPaused, logging.MsgPrinterPaused}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Fatalf("message ids %v, want %v\n%s", ids, want, buf.String())
	}
	if lines[0]["printer"] != "p1" || lines[0]["job"] != "J-1" || lines[2]["state"] != "offline" {
		t.Fatalf("fields missing: %v", lines)
	}
}

func TestJournalCentreUnreachable(t *testing.T) {
	var buf bytes.Buffer
	w := &watchedCentral{log: zerolog.New(&buf)}
	down := errors.New("dial tcp: connection refused")
	w.seen(down) // a blip: nothing yet
	w.seen(down)
	if buf.Len() != 0 {
		t.Fatalf("a short outage was written: %s", buf.String())
	}
	w.failSince = time.Now().Add(-unreachableAfter - time.Second)
	w.seen(down)
	w.seen(down) // once per outage
	w.seen(nil)
	w.seen(nil)
	lines := logLines(t, &buf)
	if len(lines) != 2 || lines[0][logging.MessageID] != logging.MsgCentreUnreachable || lines[1][logging.MessageID] != logging.MsgCentreReachable {
		t.Fatalf("want one unreachable and one reachable-again entry:\n%s", buf.String())
	}
}
