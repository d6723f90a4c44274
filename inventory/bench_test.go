package inventory

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/storage"
)

// BenchmarkAppend measures ledger appends (one event per transaction,
// synchronous=FULL, tree hashes, a checkpoint every 100) against a plain
// INSERT of the same bytes into a table without the tree, in the same run
// on the same kind of database.
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	b.Run("ledger", func(b *testing.B) {
		f := newFixture(b, func(o *Options) { o.CheckpointEvery = 100; o.Outbox = nil })
		f.record(b, Event{Kind: Received, Actor: "ani", Quantity: MaxQuantity, DeliveryRef: "D1"})
		f.record(b, Event{Kind: Loaded, Actor: "ani", Printer: "p1", Quantity: MaxQuantity})
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := f.l.Record(ctx, Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "JOB-" + strconv.Itoa(i), UID: "04A1B2C3D4E5F6"}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
	b.Run("plain-insert", func(b *testing.B) {
		db, err := storage.Open(ctx, filepath.Join(b.TempDir(), "plain.db"))
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`CREATE TABLE plain(seq INTEGER PRIMARY KEY, at TEXT, kind TEXT, printer TEXT, job TEXT, data BLOB)`); err != nil {
			b.Fatal(err)
		}
		ent := Entry{Station: "jkt01", At: time.Now(), Event: Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "JOB-1", UID: "04A1B2C3D4E5F6"}}
		data, _ := encodeEntry(ent)
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			err := storage.InTx(ctx, db, func(tx *sql.Tx) error {
				_, err := tx.Exec(`INSERT INTO plain VALUES(?,?,?,?,?,?)`, i, formatTime(ent.At), "consumed", "p1", "JOB-1", data)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
	})
}

// The million-event database is built once per process (about a minute)
// straight into the tables, in big transactions, with the same encoding,
// tree and signatures as Append; Verify passing on it checks the builder.
var (
	bulkOnce sync.Once
	bulkPath string
	bulkErr  error
	bulkKept string
	bulkN    = 1_000_000
)

func TestMain(m *testing.M) {
	if s := os.Getenv("LEDGER_BENCH_EVENTS"); s != "" {
		bulkN, _ = strconv.Atoi(s)
	}
	code := m.Run()
	if bulkPath != "" {
		os.RemoveAll(filepath.Dir(bulkPath))
	}
	os.Exit(code)
}

func bulkLedger(b *testing.B) string {
	bulkOnce.Do(func() {
		// LEDGER_BENCH_DB keeps the built database at that path and reuses
		// it on the next run (building it takes a minute or two).
		if keep := os.Getenv("LEDGER_BENCH_DB"); keep != "" {
			if _, err := os.Stat(keep); err != nil {
				start := time.Now()
				if bulkErr = buildBulk(keep, bulkN); bulkErr != nil {
					os.Remove(keep)
					return
				}
				b.Logf("built %d-event ledger in %v", bulkN, time.Since(start).Round(time.Second))
			}
			bulkKept = keep
			return
		}
		dir, err := os.MkdirTemp("", "ledger-bench-")
		if err != nil {
			bulkErr = err
			return
		}
		bulkPath = filepath.Join(dir, "station.db")
		start := time.Now()
		bulkErr = buildBulk(bulkPath, bulkN)
		b.Logf("built %d-event ledger in %v", bulkN, time.Since(start).Round(time.Second))
	})
	if bulkErr != nil {
		b.Fatal(bulkErr)
	}
	if bulkKept != "" {
		return bulkKept
	}
	return bulkPath
}

func buildBulk(path string, n int) error {
	ctx := context.Background()
	db, err := storage.Open(ctx, path)
	if err != nil {
		return err
	}
	defer db.Close()
	signer, _, err := LoadOrCreateSigner(path+".key", "station-bench")
	if err != nil {
		return err
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := Open(ctx, db, Options{StationID: "bench", Signer: signer, Now: func() time.Time { return base }}); err != nil {
		return err
	}
	if _, err := db.Exec(`PRAGMA synchronous=OFF`); err != nil { // setup only
		return err
	}
	hashes := make([]tlog.Hash, 0, 2*n)
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = hashes[x]
		}
		return out, nil
	})
	bal := balances{}
	var tx *sql.Tx
	var insE, insH, insC *sql.Stmt
	begin := func() error {
		var err error
		if tx, err = db.Begin(); err != nil {
			return err
		}
		if insE, err = tx.Prepare(`INSERT INTO ledger_events(seq, at, kind, printer, job, data) VALUES(?,?,?,?,?,?)`); err != nil {
			return err
		}
		if insH, err = tx.Prepare(`INSERT INTO ledger_hashes(idx, hash) VALUES(?,?)`); err != nil {
			return err
		}
		insC, err = tx.Prepare(`INSERT INTO ledger_checkpoints(size, hash, note, at) VALUES(?,?,?,?)`)
		return err
	}
	if err := begin(); err != nil {
		return err
	}
	printers := []string{"p1", "p2", "p3"}
	fed := map[string]int64{}
	for i := 0; i < n; i++ {
		p := printers[i%3]
		var e Event
		switch {
		case bal[InPrinter(p)] == 0 && bal[Storage] < 500:
			e = Event{Kind: Received, Actor: "ani", Quantity: 5000, DeliveryRef: "DO-" + strconv.Itoa(i)}
		case bal[InPrinter(p)] == 0:
			e = Event{Kind: Loaded, Actor: "ani", Printer: p, Quantity: 500}
		case bal[bSpoiled] >= 25:
			e = Event{Kind: Destroyed, Actor: "ani", Quantity: 25, Witnesses: []string{"budi", "citra"}, RecordRef: "BA-" + strconv.Itoa(i)}
		case i%97 == 3:
			e = Event{Kind: CounterReading, Actor: "engine", Printer: p, CardsInserted: 1000 + fed[p]}
		case i%41 == 7:
			e = Event{Kind: Spoiled, Actor: "engine", Printer: p, Job: "JOB-" + strconv.Itoa(i), Reason: ReasonChipWrite, UID: "04A1B2C3D4"}
		case i%1000 == 500:
			e = Event{Kind: TestCard, Actor: "tech", Printer: p}
		default:
			e = Event{Kind: Consumed, Actor: "engine", Printer: p, Job: "JOB-" + strconv.Itoa(i), UID: fmt.Sprintf("04%012X", i)}
		}
		e, err := normalize(e)
		if err != nil {
			return err
		}
		if _, err := bal.apply(e); err != nil {
			return fmt.Errorf("bulk event %d: %w", i, err)
		}
		if e.Kind == Consumed || e.Kind == Spoiled || e.Kind == TestCard {
			fed[p]++
		}
		ent := Entry{Seq: int64(i), Station: "bench", At: base.Add(time.Duration(i) * 30 * time.Second), Event: e}
		data, err := encodeEntry(ent)
		if err != nil {
			return err
		}
		if _, err := insE.Exec(i, formatTime(ent.At), string(e.Kind), e.Printer, e.Job, data); err != nil {
			return err
		}
		hs, err := tlog.StoredHashes(int64(i), data, mem)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if _, err := insH.Exec(len(hashes), h[:]); err != nil {
				return err
			}
			hashes = append(hashes, h)
		}
		if (i+1)%1000 == 0 || i == n-1 {
			size := int64(i + 1)
			th, err := tlog.TreeHash(size, mem)
			if err != nil {
				return err
			}
			msg, err := note.Sign(&note.Note{Text: string(FormatCheckpoint(Origin("bench"), tlog.Tree{N: size, Hash: th}))}, signer)
			if err != nil {
				return err
			}
			if _, err := insC.Exec(size, th[:], msg, formatTime(ent.At)); err != nil {
				return err
			}
		}
		if (i+1)%100_000 == 0 {
			if err := tx.Commit(); err != nil {
				return err
			}
			if err := begin(); err != nil {
				return err
			}
		}
	}
	for _, k := range sortedKeys(bal) {
		if _, err := tx.Exec(`INSERT INTO ledger_balance(bucket, qty) VALUES(?, ?)`, k, bal[k]); err != nil {
			return err
		}
	}
	// The day totals, as Open rebuilds them for a database without.
	if err := rebuildDays(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// cpuSeconds is the process's user+system CPU time: on a machine shared
// with other work, CPU per op says more than wall time per op.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// BenchmarkVerify1M verifies the million-event ledger; its same-run
// baselines are the general path (every row through ParseEntry and apply,
// every stored hash compared: what verify did before issue 18, on today's
// reader) and the bare read of the rows the old verify queried, the floor
// of any verify that reads every event through database/sql.
func BenchmarkVerify1M(b *testing.B) {
	path := bulkLedger(b)
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	run := func(name string, fast bool, opt VerifyOptions) {
		b.Run(name, func(b *testing.B) {
			verifyFastPath = fast
			defer func() { verifyFastPath = true }()
			cpu0 := cpuSeconds()
			for b.Loop() {
				rep, err := Verify(ctx, db, opt)
				if err != nil {
					b.Fatal(err)
				}
				if !rep.OK() || rep.Events != int64(bulkN) {
					b.Fatalf("verify of the bulk ledger: %d events, %v", rep.Events, rep.Problems)
				}
			}
			b.ReportMetric(float64(bulkN)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
	run("fast", true, VerifyOptions{})
	run("all-hashes", true, VerifyOptions{AllStoredHashes: true})
	run("general-path", false, VerifyOptions{AllStoredHashes: true})
	b.Run("row-scan", func(b *testing.B) {
		cpu0 := cpuSeconds()
		for b.Loop() {
			rows, err := db.QueryContext(ctx, `SELECT seq, at, kind, printer, job, data FROM ledger_events ORDER BY seq`)
			if err != nil {
				b.Fatal(err)
			}
			var seq int64
			var at, kind, printer, job, data sql.RawBytes
			n := 0
			for rows.Next() {
				if err := rows.Scan(&seq, &at, &kind, &printer, &job, &data); err != nil {
					b.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != bulkN {
				b.Fatalf("%d rows", n)
			}
		}
		b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	})
}

// BenchmarkReconcile1M summarises a year (the whole million events, 347
// days) and the middle third of it from the day totals, against the replay
// of every event (how reconcile worked before issue 18) in the same run.
func BenchmarkReconcile1M(b *testing.B) {
	path := bulkLedger(b)
	ctx := context.Background()
	db, err := storage.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Duration(bulkN) * 30 * time.Second
	periods := []struct {
		name     string
		from, to time.Time
	}{
		{"year", start, start.Add(span).AddDate(0, 0, 1).Truncate(24 * time.Hour)},
		{"middle-third", start.Add(span / 3), start.Add(2 * span / 3)},
	}
	for _, per := range periods {
		for _, byDays := range []bool{true, false} {
			name := per.name + "/days"
			if !byDays {
				name = per.name + "/replay"
			}
			b.Run(name, func(b *testing.B) {
				summarizeFromDays = byDays
				defer func() { summarizeFromDays = true }()
				cpu0 := cpuSeconds()
				for b.Loop() {
					// In a read transaction, as audit reconcile runs it.
					tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
					if err != nil {
						b.Fatal(err)
					}
					p, err := Summarize(ctx, tx, per.from, per.to)
					tx.Rollback()
					if err != nil {
						b.Fatal(err)
					}
					p.CheckCounts(map[string]int64{Storage: p.Storage.Closing}, nil)
					if len(p.Discrepancies) != 0 || p.Events == 0 {
						b.Fatalf("reconcile of the bulk ledger: %d events, %v", p.Events, p.Discrepancies)
					}
				}
				b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
			})
		}
	}
}

func BenchmarkParseEntry(b *testing.B) {
	data, err := encodeEntry(Entry{Seq: 123456, Station: "jkt01", At: time.Now(),
		Event: Event{Kind: Consumed, Actor: "engine", Printer: "p1", Job: "JOB-123456", UID: "04A1B2C3D4E5F6"}})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ParseEntry(data); err != nil {
			b.Fatal(err)
		}
	}
}
