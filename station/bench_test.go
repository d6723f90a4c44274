package station

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"printstation/chip"
	"printstation/config"
	"printstation/jobqueue"
	"printstation/printer"
	"printstation/sim/central"
	simprinter "printstation/sim/printer"
)

// directCards runs n cards through the device path alone — the driver, the
// simulator and the chip, with the panels and chip data prepared once — as
// a baseline of what the printer itself takes per card.
func directCards(b *testing.B, r *rig, sim *simprinter.Sim, p *prepared, n int) time.Duration {
	ctx := context.Background()
	ps, err := r.partsFn(ctx, r.cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	defer ps.Close()
	d, enc := ps.Printers["p1"], ps.Encoders["p1"]
	start := time.Now()
	for i := 0; i < n; i++ {
		must(b, d.Feed(ctx))
		must(b, d.MoveTo(ctx, printer.StationContactless))
		if _, err := enc.Personalize(ctx, p.perso); err != nil {
			b.Fatal(err)
		}
		must(b, d.Print(ctx, printer.Front, p.front))
		must(b, d.Eject(ctx))
	}
	return time.Since(start)
}

func must(b *testing.B, err error) {
	if err != nil {
		b.Fatal(err)
	}
}

// engineCards runs n jobs through the whole station engine.
func engineCards(b *testing.B, r *rig, n int) time.Duration {
	e := r.open()
	ids := r.addJobs("B1", n)
	r.stock("p1")
	start := time.Now()
	e.SetBatch(context.Background(), "B1", "start", "op")
	r.runUntil(r.allIn(ids, jobqueue.Printed))
	return time.Since(start)
}

// benchCards measures the engine against the bare device path at one
// printer speed and reports per-card times and their ratio.
func benchCards(b *testing.B, speed float64) {
	n := b.N
	if n < 5 {
		n = 5
	}
	// Engine.
	r := newRig(b, "p1")
	r.stockN = int64(n + 10)
	r.useSim(b, simprinter.Config{Speed: speed, Feeder: n + 20})
	b.ResetTimer()
	eng := engineCards(b, r, n)
	b.StopTimer()

	// Baseline on a fresh simulator with a job prepared by the same code.
	r2 := newRig(b, "p1")
	sim2 := r2.useSim(b, simprinter.Config{Speed: speed, Feeder: n + 20})
	e2 := r2.open()
	ids := r2.addJobs("B0", 1)
	meta, _ := e2.queue.Meta(context.Background(), ids[0])
	p, err := e2.prepare(context.Background(), meta, "p1")
	if err != nil {
		b.Fatal(err)
	}
	dir := directCards(b, r2, sim2, p, n)

	b.ReportMetric(float64(eng.Milliseconds())/float64(n), "ms/card-engine")
	b.ReportMetric(float64(dir.Milliseconds())/float64(n), "ms/card-device")
	b.ReportMetric(float64(dir)/float64(eng), "device/engine")
}

// Station overhead per card with no mechanical time: what the station adds
// (render, raster, queue, ledger, intent records) to the device path.
func BenchmarkCardZeroMechanical(b *testing.B) { benchCards(b, 0) }

// Printer utilization at real pace, run 50× faster and scaled: device time
// over engine time is the share of the time the printer is kept busy.
func BenchmarkUtilizationRealPaceX50(b *testing.B) { benchCards(b, 50) }

var _ = chip.Personalization{}

// BenchmarkCentralOutage prints from the reference central server through a
// window in which the link is down for the middle half, once with the
// prefetch window (200 jobs) and once in a mode that fetches each job online
// just before printing it (window of 1 job). It reports cards per hour of
// each over the same window.
func BenchmarkCentralOutage(b *testing.B) {
	const window = 16 * time.Second
	run := func(prefetch int) int {
		r := newRig(b, "p1")
		r.stockN = 500
		r.useSim(b, simprinter.Config{Speed: 50, Feeder: 400})
		srv, err := central.New(central.Options{Dir: filepath.Join(r.dir, "central"), Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Close()
		files, _ := srv.StationFiles("ST-T")
		srv.IssueJobs("ST-T", 200, 200)
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		hs, _ := srv.ServeTLS(ln)
		defer hs.Close()
		c := &r.cfg.Central
		c.URL, c.ClientCert, c.ClientKey, c.CAFile = "https://"+ln.Addr().String(), files.CertFile, files.KeyFile, files.CAFile
		c.IssuerKeys = append(c.IssuerKeys, config.IssuerKey{ID: files.IssuerKID, File: files.IssuerKeyFile})
		c.PollSeconds = 1
		r.cfg.Queue.PrefetchJobs = prefetch
		r.sync = func(o *jobqueue.SyncOptions) {
			o.IdlePoll = 100 * time.Millisecond
			o.MinBackoff, o.MaxBackoff = 200*time.Millisecond, time.Second
		}
		e := r.open()
		r.stock("p1")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { e.Run(ctx); close(done) }()
		// Let the station sync what its window allows, then start the
		// batch and take the link down for the middle half.
		time.Sleep(3 * time.Second)
		bs, _ := e.queue.Batches(ctx)
		for _, bt := range bs {
			e.SetBatch(ctx, bt.ID, "start", "op")
		}
		start := time.Now()
		time.Sleep(window / 4)
		srv.SetFaults(central.Faults{DropRate: 1})
		time.Sleep(window / 2)
		srv.SetFaults(central.Faults{})
		time.Sleep(window - time.Since(start))
		jobs, _ := e.queue.Jobs(ctx, "", jobqueue.Printed)
		cancel()
		<-done
		return len(jobs)
	}
	for i := 0; i < b.N; i++ {
		pre := run(200)
		online := run(1)
		perHour := func(n int) float64 { return float64(n) / window.Hours() }
		b.ReportMetric(perHour(pre), "cards/h-prefetch")
		b.ReportMetric(perHour(online), "cards/h-online")
		if online > 0 {
			b.ReportMetric(float64(pre)/float64(online), "prefetch/online")
		}
	}
}
