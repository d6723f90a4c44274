// Package logging builds the daemon's zerolog logger: native journal fields
// when stderr is the journal (so fields stay fields, and MESSAGE_ID is the
// journal's), JSON to other non-terminals, colour console on a terminal.
//
// Personal data never goes to a log: callers log job ids, batch ids,
// printer names and chip UIDs, never names, ID numbers, photos or chip
package logging

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
	"github.com/rs/zerolog/journald"
)

// New returns a logger writing to w at level with format "auto", "json" or
// "console". With "auto", JSON goes to the journal or any non-terminal and
// colour console to a terminal.
func New(w io.Writer, level, format string) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	var out io.Writer = w
	switch {
	case format == "console" || (format == "auto" && isTerminal(w)):
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)}
	case format == "auto" && w == os.Stderr && IsJournal() && journal.Enabled():
		// Native journal fields, so MESSAGE_ID, PRINTER, JOB... are fields
		// journalctl can match, not text inside a JSON line.
		out = journalOr{w: w}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger()
}

// journalOr sends each entry to the journal, and writes it as a JSON line
// to w when the journal refuses it, so no entry is lost.
type journalOr struct{ w io.Writer }

var journalWriter = journald.NewJournalDWriter()

func (j journalOr) Write(p []byte) (int, error) {
	if _, err := journalWriter.Write(p); err != nil {
		return j.w.Write(p)
	}
	return len(p), nil
}

// IsJournal reports whether stderr is connected to the systemd journal.
func IsJournal() bool {
	ok, _ := journal.StderrIsJournalStream()
	return ok
}

func isTerminal(w io.Writer) bool {
	if f, ok := w.(*os.File); ok {
		if f == os.Stderr && IsJournal() {
			return false
		}
		return isatty.IsTerminal(f.Fd())
	}
	return false
}

// personalKeys are field names that must never reach a log.
var personalKeys = []string{"nik", "nama", "name", "photo", "signature", "alamat", "address_line", "birth", "chip_data", "fields", "uid"}

// IsPersonalKey reports whether a log field name looks like personal data;
// tests use it to scan log output.
func IsPersonalKey(k string) bool {
	k = strings.ToLower(k)
	for _, p := range personalKeys {
		if k == p {
			return true
		}
	}
	return false
}
