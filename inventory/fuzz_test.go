package inventory

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// ParseEntry reads bytes from a database file an auditor was handed: it
// must never panic, and whatever it accepts must be canonical.
func FuzzParseEntry(f *testing.F) {
	for _, e := range []Event{
		{Kind: Received, Actor: "ani", Quantity: 40, DeliveryRef: "DO-1", SerialFirst: "A1", SerialLast: "A40"},
		{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "J1", UID: "04AABBCC"},
		{Kind: ShiftClosed, Actor: "ani", Witnesses: []string{"budi"}, Counted: map[string]int64{Storage: 3, "printer:p1": 2}},
		{Kind: Destroyed, Actor: "ani", Quantity: 1, UIDs: []string{"04AABBCC"}, Witnesses: []string{"b", "c"}, RecordRef: "BA"},
	} {
		b, err := encodeEntry(Entry{Seq: 7, Station: "jkt01", At: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC), Event: e})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"station":"x","seq":-1,"at":"2026-03-02T08:00:00.000000000Z","kind":"received","actor":"a","counted":{"b":1,"a":2}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEntry(data)
		if err != nil {
			return
		}
		again, err := encodeEntry(e)
		if err != nil {
			t.Fatalf("accepted entry does not encode: %v", err)
		}
		if !bytes.Equal(again, data) {
			t.Fatalf("accepted non-canonical bytes:\n%q\n%q", data, again)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add(FormatCheckpoint("printstation/jkt01/ledger", tlog.Tree{N: 5, Hash: tlog.RecordHash([]byte("x"))}))
	f.Add([]byte("origin\n0\n\n"))
	f.Add([]byte("\n1\nAAAA\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		origin, tree, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		o2, t2, err := ParseCheckpoint(FormatCheckpoint(origin, tree))
		if err != nil || o2 != origin || t2 != tree {
			t.Fatalf("checkpoint %q does not survive a round trip: %v", text, err)
		}
	})
}
