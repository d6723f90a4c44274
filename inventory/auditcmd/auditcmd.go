// Package auditcmd is `printstationctl audit`: the auditor's commands over a
// copy of the station database, run with no daemon. Exit status: 0 pass,
// 1 fail (the reasons are printed), 2 usage or I/O error.
package auditcmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"printstation/inventory"
	"printstation/storage"
)

const (
	exitPass  = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: printstationctl audit COMMAND [flags]

Commands (each works on a copy of station.db; no daemon needed):
  verify     --db FILE [--key VKEYFILE] [--centre-key VKEYFILE]
             [--centre URL|FILE [--centre-ca F --centre-cert F --centre-client-key F]]
             [--all-hashes] [--json]
             Rebuild the ledger's Merkle tree from its rows and check it
             against every stored hash and signed checkpoint, replay the
             stock invariant event by event, and tie every consumed or
             spoiled blank to a job. Without --key the station key stored
             in the database is used, which only proves the file agrees
             with itself: pass the station's vkey as registered with the
             centre to prove the ledger came from the station.
             With --centre, the database is also checked against the
             checkpoints the centre cosigned for the station (its export
             file, or the URL of GET /v1/stations/ID/checkpoints): any
             cosigned root the database cannot reproduce fails, naming the
             checkpoint; so does a database of an older enrolment.
             Stored tree hashes are compared where no checkpoint the
             events reproduce vouches for them (and where the next
             appends build on them); --all-hashes compares every one.
  reconcile  --db FILE --from DATE --to DATE [--physical storage=N,p1=N]
             [--counters p1=N,...] [--tz ZONE] [--json]
             Per station and printer from DATE to DATE (both days
             included): opening, received, loaded, consumed, spoiled by
             reason, destroyed, closing; compared with shift-close counts,
             the printers' hardware counter readings, and the physical
             counts and counters you give.
  export     --db FILE --format csv|json [--log blanks|people] [--from DATE] [--to DATE] [--tz ZONE]
             Every event (in the period, if given) to standard output.

Exit status: 0 pass, 1 fail (reasons printed), 2 usage or I/O error.
`

// Main runs `audit ARGS...` (args start after "audit").
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "verify":
		return verify(ctx, args[1:], stdout, stderr)
	case "reconcile":
		return reconcile(ctx, args[1:], stdout, stderr)
	case "export":
		return export(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitPass
	default:
		fmt.Fprintf(stderr, "audit: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
}

func flags(name string, stderr io.Writer) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet("audit "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "copy of the station database (station.db)")
	js := fs.Bool("json", false, "write the result as JSON")
	return fs, db, js
}

func open(ctx context.Context, path string, stderr io.Writer) (*sql.DB, bool) {
	if path == "" {
		fmt.Fprintln(stderr, "audit: --db FILE is required (a copy of station.db)")
		return nil, false
	}
	if _, err := os.Stat(path); err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return nil, false
	}
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "audit: %v\n", err)
		return nil, false
	}
	return db, true
}

// snapshot opens the database copy read-only and reads it in one
// transaction, so the figures come from one consistent state even while a
// daemon appends to the file.
func snapshot(ctx context.Context, path, cmd string, stderr io.Writer) (*sql.Tx, func(), bool) {
	db, ok := open(ctx, path, stderr)
	if !ok {
		return nil, nil, false
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		fmt.Fprintf(stderr, "audit %s: %v\n", cmd, err)
		db.Close()
		return nil, nil, false
	}
	return tx, func() { tx.Rollback(); db.Close() }, true
}

func readVerifier(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("key file %s does not hold a verifier key (name+hash+key, as in the station's ledger.key.pub): %w", path, err)
	}
	return v, nil
}

func verify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath, js := flags("verify", stderr)
	keyPath := fs.String("key", "", "station verifier key file (overrides the key stored in the database)")
	centrePath := fs.String("centre-key", "", "centre verifier key file: every cosigned checkpoint must verify with it")
	centre := fs.String("centre", "", "the centre's witness record for the station: an export FILE, or an https:// URL")
	ca := fs.String("centre-ca", "", "with an https --centre: CA file of the centre's server certificate")
	cert := fs.String("centre-cert", "", "with an https --centre: client certificate (PEM)")
	ckey := fs.String("centre-client-key", "", "with an https --centre: client certificate's key (PEM)")
	allHashes := fs.Bool("all-hashes", false, "compare every stored tree hash, also those under a checkpoint the events reproduce (slower; finds edits of the ledger's working copy that change no event)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	opt := inventory.VerifyOptions{AllStoredHashes: *allHashes}
	if *centre != "" {
		exp, err := loadCentre(ctx, *centre, *ca, *cert, *ckey)
		if err != nil {
			fmt.Fprintf(stderr, "audit verify: --centre %s: %v\n", *centre, err)
			return exitUsage
		}
		opt.Centre = exp
	}
	if *keyPath != "" {
		v, err := readVerifier(*keyPath)
		if err != nil {
			fmt.Fprintf(stderr, "audit verify: %v\n", err)
			return exitUsage
		}
		opt.Keys = []note.Verifier{v}
	}
	if *centrePath != "" {
		v, err := readVerifier(*centrePath)
		if err != nil {
			fmt.Fprintf(stderr, "audit verify: %v\n", err)
			return exitUsage
		}
		opt.CentreKey = v
	}
	db, ok := open(ctx, *dbPath, stderr)
	if !ok {
		return exitUsage
	}
	defer db.Close()
	rep, err := inventory.Verify(ctx, db, opt)
	if err != nil {
		fmt.Fprintf(stderr, "audit verify: %v\n", err)
		return exitUsage
	}
	if *js {
		if err := writeJSON(stdout, struct {
			Pass bool `json:"pass"`
			*inventory.VerifyReport
		}{rep.OK(), rep}); err != nil {
			fmt.Fprintf(stderr, "audit verify: %v\n", err)
			return exitUsage
		}
	} else {
		fmt.Fprintf(stdout, "ledger of station %s: %d events, %d signed checkpoints (last at size %d, %d events after it), %d cosigned\n",
			rep.Station, rep.Events, rep.Checkpoints, rep.LastCheckpoint, rep.UncheckpointedTail, rep.Cosigned)
		fmt.Fprintf(stdout, "signatures checked with: %s\n", rep.KeySource)
		if opt.Centre != nil {
			fmt.Fprintf(stdout, "centre: %d cosigned checkpoints of enrolment epoch %d checked against this database\n", rep.CentreChecked, max(rep.Epoch, 1))
		}
		if rep.JobsChecked {
			fmt.Fprintln(stdout, "jobs: every consumed or spoiled blank checked against the job queue")
		} else {
			fmt.Fprintf(stdout, "jobs: %s\n", rep.JobsNote)
		}
		s := rep.Stock
		fmt.Fprintf(stdout, "stock: received %d, storage %d, printers %v, consumed %d, test %d, spoiled awaiting destruction %d, destroyed %d, adjustments %+d\n",
			s.Received, s.Storage, s.Printers, s.Consumed, s.TestCards, s.SpoiledAwaiting, s.Destroyed, s.Adjustments)
		for _, w := range rep.Warnings {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
		if rep.OK() {
			fmt.Fprintln(stdout, "PASS")
		} else {
			fmt.Fprintf(stdout, "FAIL: %d problems\n", len(rep.Problems)+rep.MoreProblems)
			for _, p := range rep.Problems {
				fmt.Fprintf(stdout, "  %s\n", p)
			}
			if rep.MoreProblems > 0 {
				fmt.Fprintf(stdout, "  ... and %d more\n", rep.MoreProblems)
			}
		}
	}
	if !rep.OK() {
		return exitFail
	}
	return exitPass
}

// parseDay accepts YYYY-MM-DD (midnight in loc) or an RFC 3339 time.
func parseDay(s string, loc *time.Location) (t time.Time, day bool, err error) {
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		return t, true, nil
	}
	t, err = time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%q is neither a date (2026-03-31) nor an RFC 3339 time", s)
	}
	return t, false, nil
}

// parseCounts parses "storage=10,p1=3".
func parseCounts(s string) (map[string]int64, error) {
	m := map[string]int64{}
	if s == "" {
		return m, nil
	}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if !ok || k == "" || err != nil || n < 0 {
			return nil, fmt.Errorf("%q: write NAME=N with N a whole number, e.g. storage=120,p1=35", part)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%q given twice", k)
		}
		m[k] = n
	}
	return m, nil
}

func period(from, to, tz string, required bool) (time.Time, time.Time, error) {
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("--tz %q: %w", tz, err)
	}
	if required && (from == "" || to == "") {
		return time.Time{}, time.Time{}, errors.New("--from and --to are required")
	}
	var f, t time.Time
	if from != "" {
		if f, _, err = parseDay(from, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--from: %w", err)
		}
	}
	if to != "" {
		var day bool
		if t, day, err = parseDay(to, loc); err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("--to: %w", err)
		}
		if day {
			t = t.AddDate(0, 0, 1) // the --to day is included
		}
	}
	if !f.IsZero() && !t.IsZero() && !f.Before(t) {
		return time.Time{}, time.Time{}, errors.New("--from must be before --to")
	}
	return f, t, nil
}

func reconcile(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath, js := flags("reconcile", stderr)
	from := fs.String("from", "", "first day (YYYY-MM-DD) or RFC 3339 time")
	to := fs.String("to", "", "last day, included (YYYY-MM-DD), or RFC 3339 end time (excluded)")
	tz := fs.String("tz", "UTC", "time zone of the dates, e.g. Asia/Jakarta")
	phys := fs.String("physical", "", "physical counts now: storage=N,PRINTER=N,...")
	ctrs := fs.String("counters", "", "printers' hardware counters (cards inserted) now: PRINTER=N,...")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	f, t, err := period(*from, *to, *tz, true)
	if err != nil {
		fmt.Fprintf(stderr, "audit reconcile: %v\n", err)
		return exitUsage
	}
	physical, err := parseCounts(*phys)
	if err != nil {
		fmt.Fprintf(stderr, "audit reconcile: --physical %v\n", err)
		return exitUsage
	}
	counters, err := parseCounts(*ctrs)
	if err != nil {
		fmt.Fprintf(stderr, "audit reconcile: --counters %v\n", err)
		return exitUsage
	}
	tx, done, ok := snapshot(ctx, *dbPath, "reconcile", stderr)
	if !ok {
		return exitUsage
	}
	defer done()
	p, err := inventory.Summarize(ctx, tx, f, t)
	if err != nil {
		fmt.Fprintf(stderr, "audit reconcile: %v\n", err)
		if errors.Is(err, inventory.ErrNotALedger) {
			return exitUsage
		}
		return exitFail
	}
	p.CheckCounts(physical, counters)
	pass := len(p.Discrepancies) == 0
	if *js {
		if err := writeJSON(stdout, struct {
			Pass bool `json:"pass"`
			*inventory.Period
		}{pass, p}); err != nil {
			fmt.Fprintf(stderr, "audit reconcile: %v\n", err)
			return exitUsage
		}
	} else {
		writePeriod(stdout, p)
		if pass {
			fmt.Fprintln(stdout, "PASS")
		} else {
			fmt.Fprintf(stdout, "FAIL: %d discrepancies\n", len(p.Discrepancies))
			for _, d := range p.Discrepancies {
				if d.Seq >= 0 {
					fmt.Fprintf(stdout, "  event seq %d: %s\n", d.Seq, d.What)
				} else {
					fmt.Fprintf(stdout, "  %s\n", d.What)
				}
			}
		}
	}
	if !pass {
		return exitFail
	}
	return exitPass
}

func writePeriod(w io.Writer, p *inventory.Period) {
	fmt.Fprintf(w, "station %s, %s to %s: %d events, %d shift closes, %d counter readings\n",
		p.Station, p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Events, p.ShiftsClosed, p.CounterReadings)
	fmt.Fprintf(w, "%-12s %8s %8s %8s %8s %8s %8s %8s %8s %8s\n", "location", "opening", "received", "loaded", "unloaded", "consumed", "test", "spoiled", "adjusted", "closing")
	s := p.Storage
	fmt.Fprintf(w, "%-12s %8d %8d %8d %8d %8s %8s %8d %8d %8d\n", "storage", s.Opening, s.Received, s.Loaded, s.Unloaded, "-", "-", sum(s.Spoiled), s.Adjusted, s.Closing)
	for _, x := range p.Printers {
		fmt.Fprintf(w, "%-12s %8d %8s %8d %8d %8d %8d %8d %8d %8d\n", x.Printer, x.Opening, "-", x.Loaded, x.Unloaded, x.Consumed, x.TestCards, sum(x.Spoiled), x.Adjusted, x.Closing)
	}
	fmt.Fprintf(w, "spoiled by reason: %s\n", reasons(p.Spoiled))
	fmt.Fprintf(w, "spoiled awaiting destruction: opening %d, closing %d; destroyed %d\n", p.SpoiledOpening, p.SpoiledClosing, p.Destroyed)
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

func reasons(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range inventory.SpoilReasons {
		if m[r] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", r, m[r]))
		}
	}
	return strings.Join(parts, ", ")
}

func export(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, dbPath, js := flags("export", stderr)
	format := fs.String("format", "", "csv or json")
	from := fs.String("from", "", "first day (YYYY-MM-DD) or RFC 3339 time")
	to := fs.String("to", "", "last day, included, or RFC 3339 end time (excluded)")
	tz := fs.String("tz", "UTC", "time zone of the dates")
	log := fs.String("log", inventory.LogBlanks, "which log: blanks (the cards) or people (sign-ins, accounts, actions)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *log != inventory.LogBlanks && *log != inventory.LogPeople {
		fmt.Fprintf(stderr, "audit export: --log %q: use blanks or people\n", *log)
		return exitUsage
	}
	if *js && *format == "" {
		*format = "json"
	}
	if *format != "csv" && *format != "json" {
		fmt.Fprintln(stderr, "audit export: --format csv or --format json is required")
		return exitUsage
	}
	f, t, err := period(*from, *to, *tz, false)
	if err != nil {
		fmt.Fprintf(stderr, "audit export: %v\n", err)
		return exitUsage
	}
	tx, done, ok := snapshot(ctx, *dbPath, "export", stderr)
	if !ok {
		return exitUsage
	}
	defer done()
	if err := inventory.ExportLog(ctx, tx, stdout, *format, *log, f, t); err != nil {
		fmt.Fprintf(stderr, "audit export: %v\n", err)
		return exitFail
	}
	return exitPass
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// maxCentreRecord bounds the centre's record: a checkpoint is well under
// 1 KB, so this is room for a hundred thousand of them.
const maxCentreRecord = 64 << 20

// loadCentre reads the centre's witness record from a file or an https URL
// (with the station's or an auditor's client certificate when the centre
// requires one).
func loadCentre(ctx context.Context, src, ca, cert, key string) (*inventory.CentreExport, error) {
	var rd io.Reader
	if strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "http://") {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("CA file %s holds no PEM certificate", ca)
			}
			tc.RootCAs = pool
		}
		if cert != "" || key != "" {
			c, err := tls.LoadX509KeyPair(cert, key)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{c}
		}
		ctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
		if err != nil {
			return nil, err
		}
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: tc}}).Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("the centre answered HTTP %d", resp.StatusCode)
		}
		rd = resp.Body
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		rd = f
	}
	b, err := io.ReadAll(io.LimitReader(rd, maxCentreRecord+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCentreRecord {
		return nil, fmt.Errorf("the record is larger than %d bytes", maxCentreRecord)
	}
	var exp inventory.CentreExport
	if err := json.Unmarshal(b, &exp); err != nil {
		return nil, fmt.Errorf("not the centre's witness record (JSON with station, enrolments, checkpoints): %w", err)
	}
	return &exp, nil
}
