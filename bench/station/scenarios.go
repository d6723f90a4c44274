package main

import (
	"context"
	"fmt"
	"image"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"printstation/card"
	"printstation/chip"
	"printstation/chip/pcsc"
	"printstation/jobqueue"
	"printstation/printer"
	_ "printstation/printer/all" // the Evolis driver and the TCP transport
	"printstation/printer/raster"
	"printstation/sim/central"
)

// work is one card prepared the way the engine prepares a job: rendered,
// rasterized, and its chip personalization decoded.
type work struct {
	panels  *raster.Panels
	perso   chip.Personalization
	hasChip bool
}

// prepareCard renders and rasterizes a synthetic job of the centre's kind.
func prepareCard(seed uint64, withChip bool) (*work, error) {
	return renderCard(synthJob(seed), withChip)
}

// synthJob is a synthetic job of the centre's kind.
func synthJob(seed uint64) *jobqueue.Payload {
	return central.JobSpec{Station: "ST-BENCH-01", JobID: "J-BENCH-1", Seed: seed, Issued: time.Now()}.Payload()
}

func renderCard(p *jobqueue.Payload, withChip bool) (*work, error) {
	tpl := card.DemoTemplate()
	col, blk, err := card.Render(tpl, p.Fields, p.Photo, p.Signature)
	if err != nil {
		return nil, err
	}
	var k image.Image
	if blk != nil {
		k = blk
	}
	base, baseK := card.StaticLayers(tpl) // as the engine does
	panels, err := raster.ConvertOver(col, k, base, baseK, raster.Options{})
	if err != nil {
		return nil, err
	}
	w := &work{panels: panels}
	if withChip && len(p.Chip.Files) > 0 {
		aid, err := p.Chip.AIDBytes()
		if err != nil {
			return nil, err
		}
		w.hasChip = true
		w.perso = chip.Personalization{AID: aid, Lock: p.Chip.Lock}
		for _, f := range p.Chip.Files {
			fid, err := f.FIDValue()
			if err != nil {
				return nil, err
			}
			w.perso.Files = append(w.perso.Files, chip.File{FID: fid, Data: f.Data})
		}
	}
	return w, nil
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// devicePath drives a printer simulator directly — the Evolis driver, the
// PC/SC encoder on the virtual card, panels and chip data prepared once —
// for n cards: the printer alone, without the station. It returns the CPU
// this process spent per card.
func devicePath(p *simProc, w *work, n int) (cpuPerCard time.Duration, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	d, err := printer.Open(ctx, "evolis", "tcp://"+p.addr, printer.Options{Name: p.name, Compress: true, Ribbon: "ymcko", Log: zerolog.Nop()})
	if err != nil {
		return 0, err
	}
	defer d.Close()
	var enc *pcsc.Encoder
	if w.hasChip {
		if enc, err = pcsc.Open(ctx, readerName(p.vpcdPort)); err != nil {
			return 0, err
		}
		defer enc.Close()
	}
	c0 := selfCPU()
	for i := 0; i < n; i++ {
		if err := d.Feed(ctx); err != nil {
			return 0, fmt.Errorf("card %d feed: %w", i+1, err)
		}
		if w.hasChip {
			if err := d.MoveTo(ctx, printer.StationContactless); err != nil {
				return 0, err
			}
			if _, err := enc.Personalize(ctx, w.perso); err != nil {
				return 0, fmt.Errorf("card %d chip: %w", i+1, err)
			}
		}
		if err := d.Print(ctx, printer.Front, w.panels); err != nil {
			return 0, fmt.Errorf("card %d print: %w", i+1, err)
		}
		if err := d.Eject(ctx); err != nil {
			return 0, fmt.Errorf("card %d eject: %w", i+1, err)
		}
	}
	return (selfCPU() - c0) / time.Duration(n), nil
}

func (b *bench) vpcd(i int) int {
	if !b.chip {
		return 0
	}
	return vpcdPorts[i]
}

// runBatch starts a daemon on the rig, waits for n jobs, stocks, starts the
// batches and waits until n cards are printed and their outcomes are at the
// centre. It returns the daemon's CPU spent from the moment the batch start
// commands returned to the last card's outcome at the centre; the start commands' own CPU (a signed-in call costs the daemon a
// password hash, ≈ 0.2–0.3 s: once a batch, not once a card) is kept in
// r.startCPU. The first card's work that ran before the commands returned
// is missed (a few ms; the engine starts when the state changes).
func (r *rig) runBatch(o daemonOpts, n int, within time.Duration) (cpu, wall time.Duration, err error) {
	if err := r.startWithJobs(o, n, 5*time.Minute); err != nil {
		return 0, 0, err
	}
	if err := r.stock(n + 5); err != nil {
		return 0, 0, err
	}
	time.Sleep(time.Second) // let the sync's last page and the stock settle
	// The daemon's CPU with nothing to print (the sync's poll of the
	// centre, the engine's loop), for the reader to weigh the window by.
	i0, err := cpuTime(r.daemonPID())
	if err != nil {
		return 0, 0, err
	}
	const idle = 3 * time.Second
	time.Sleep(idle)
	c0, err := cpuTime(r.daemonPID())
	if err != nil {
		return 0, 0, err
	}
	r.idleCPU = (c0 - i0) * time.Second / idle
	t0 := time.Now()
	if err := r.startBatches(); err != nil {
		return 0, 0, err
	}
	if r.started != nil {
		r.started()
	}
	cs, err := cpuTime(r.daemonPID())
	if err != nil {
		return 0, 0, err
	}
	r.startCPU = cs - c0
	r.profileSignal(syscall.SIGUSR1)
	if err := r.waitPrinted(n, within); err != nil {
		return 0, 0, fmt.Errorf("%w\ndaemon log:\n%s", err, tail(r.daemon.out.String()))
	}
	// Each card's outcome pushed to the centre is part of its cost.
	if err := r.waitOutcomes(n, 2*time.Minute); err != nil {
		return 0, 0, fmt.Errorf("%w\ndaemon log:\n%s", err, tail(r.daemon.out.String()))
	}
	wall = time.Since(t0)
	c1, err := cpuTime(r.daemonPID())
	r.profileSignal(syscall.SIGUSR2)
	if _, hwm, merr := memKB(r.daemonPID()); merr == nil {
		r.peakKB = hwm
	}
	return c1 - cs, wall, err
}

// cpuPerCard: printstationd's CPU per card with the printer at zero
// mechanical time, beside the device path alone and the render+raster part
// measured in this process, same run.
func (b *bench) cpuPerCard(chip bool) error {
	vpcd := func(i int) int {
		if !chip {
			return 0
		}
		return b.vpcd(i)
	}
	n := b.cards
	w, err := prepareCard(7, chip)
	if err != nil {
		return err
	}
	// In-process: render + raster per card (what the engine's prepare does).
	const k = 10
	jobs := make([]*jobqueue.Payload, k)
	for i := range jobs {
		jobs[i] = synthJob(uint64(100 + i))
	}
	// On one kept canvas and panels, as the engine's prepare draws them.
	tpl := card.DemoTemplate()
	base, baseK := card.StaticLayers(tpl)
	var cv card.Canvas
	var reuse raster.Reuse
	c0 := selfCPU()
	for _, j := range jobs {
		col, blk, err := cv.Render(tpl, j.Fields, j.Photo, j.Signature)
		if err != nil {
			return err
		}
		var k image.Image
		if blk != nil {
			k = blk
		}
		if _, err := raster.ConvertOverInto(&reuse, col, k, base, baseK, cv.Drawn(), raster.Options{}); err != nil {
			return err
		}
	}
	prep := (selfCPU() - c0) / k

	// The printer and the centre are other machines in a station: pinned,
	// their simulators' work (a PNG of every card, the centre's TLS) does
	// not share the daemon's CPU and caches.
	daemonCPU, simCPU := "", ""
	if b.pin {
		daemonCPU, simCPU = "0", "1"
	}
	r, err := newRig(b.bin, b.subdir(map[bool]string{false: "cpu", true: "cpu-chip"}[chip]), centralOpts{jobs: n, noChip: !chip, taskset: simCPU})
	if err != nil {
		return err
	}
	defer r.close()
	// Baseline first: the printer alone on its own simulator.
	alone, err := r.newSim("alone", 0, n+5, vpcd(1), simCPU)
	if err != nil {
		return err
	}
	dev, err := devicePath(alone, w, n)
	if err != nil {
		return fmt.Errorf("device path: %w", err)
	}
	if _, err := r.addPrinter(0, n+5, vpcd(0), simCPU); err != nil {
		return err
	}
	cpu, wall, err := r.runBatch(daemonOpts{taskset: daemonCPU}, n, 10*time.Minute)
	if err != nil {
		return err
	}
	per := cpu / time.Duration(n)
	chipNote := map[bool]string{true: "chip on vicc", false: "no chip"}[chip]
	if b.pin {
		chipNote += ", daemon on CPU 0, simulators on CPU 1"
	}
	// The target is the daemon's own work on a card; with the chip, the
	// PC/SC client's exchanges with pcscd (as many in the device path
	// alone, the baseline) are reported beside it.
	target := "≤ 10 ms"
	if chip {
		target = "reported (the chip's PC/SC exchanges are the device path's too)"
	}
	b.add(row{Scenario: "cpu", Figure: fmt.Sprintf("printstationd CPU per card, printer at zero mechanical time (%d cards, %s)", n, chipNote),
		Value: ms(per), Baseline: "device path alone " + ms(dev) + " CPU/card", Ratio: ratio(per, dev), Target: target, Pass: passIf(!chip, per <= 10*time.Millisecond)})
	if r.warmCards > 0 {
		c1, err := cpuTime(r.daemonPID())
		if err == nil {
			// c1 is read after the window closed: the daemon is idle
			// then (its idle CPU is its own row), so this is the window's
			// end to within a clock tick.
			steady := (c1 - r.warmCPU) / time.Duration(n-r.warmCards)
			b.add(row{Scenario: "cpu", Figure: fmt.Sprintf("the same after the first %d cards (steady state: a daemon draws and converts its template's static layers and fills its glyph cache once a start)", r.warmCards),
				Value: ms(steady), Baseline: "whole batch " + ms(per), Ratio: ratio(steady, per), Target: "—"})
		}
	}
	b.add(row{Scenario: "cpu", Figure: "the same with the batch start command counted (one signed-in call: a password hash, once a batch)",
		Value: ms((cpu + r.startCPU) / time.Duration(n)), Baseline: "start command " + ms(r.startCPU), Target: "—"})
	b.add(row{Scenario: "cpu", Figure: "of which render + raster (in this process)",
		Value: ms(prep), Baseline: "daemon " + ms(per), Ratio: ratio(prep, per), Target: "—"})
	b.add(row{Scenario: "cpu", Figure: "the daemon's CPU with nothing to print, per second (3 s before the batch)",
		Value: ms(r.idleCPU), Baseline: "over the window " + ms(r.idleCPU*wall/time.Second/time.Duration(n)) + " a card", Target: "—"})
	b.add(row{Scenario: "cpu", Figure: "printstationd peak RSS (VmHWM) at the end of the batch",
		Value: fmt.Sprintf("%.1f MB", float64(r.peakKB)/1024), Baseline: "—", Target: "— (item 5 is the start scenario: RSS at rest with the queue)"})
	b.add(row{Scenario: "cpu", Figure: "wall per card through the station at zero mechanical time",
		Value: ms(wall / time.Duration(n)), Baseline: "—", Target: "—"})
	return nil
}

func ratio(a, b time.Duration) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// utilization: the printer's pace driven alone against its pace through
// the station, from the simulator's own journal, at speed ×speed.
func (b *bench) utilization(speed float64, n int) error {
	name := "util-x" + strconv.FormatFloat(speed, 'g', -1, 64)
	w, err := prepareCard(7, b.chip)
	if err != nil {
		return err
	}
	r, err := newRig(b.bin, b.subdir(name), centralOpts{jobs: n, noChip: !b.chip})
	if err != nil {
		return err
	}
	defer r.close()
	alone, err := r.newSim("alone", speed, n+5, b.vpcd(1), "")
	if err != nil {
		return err
	}
	wait := b.alone(r, alone, w, n)
	p, err := r.addPrinter(speed, n+5, b.vpcd(0), "")
	if err != nil {
		return err
	}
	if _, _, err := r.runBatch(daemonOpts{}, n, time.Duration(float64(n)*40/speed)*time.Second+2*time.Minute); err != nil {
		return err
	}
	if err := wait(); err != nil {
		return err
	}
	base, _, err := cycle(alone.out)
	if err != nil {
		return err
	}
	eng, cards, err := cycle(p.out)
	if err != nil {
		return err
	}
	u := ratio(base, eng)
	target, min := "≥ 0.995", 0.995
	if speed == 1 {
		target, min = "reported", 0
	}
	chipNote := map[bool]string{true: "chip on vicc", false: "no chip"}[b.chip]
	b.add(row{Scenario: name, Figure: fmt.Sprintf("printer utilization at ×%g (%d cards, %s): printer alone / through the station", speed, cards, chipNote),
		Value: fmt.Sprintf("%s/card", ms(eng)), Baseline: fmt.Sprintf("alone %s/card", ms(base)), Ratio: u, Target: target, Pass: passIf(min > 0, u >= min)})
	return b.pauseRow(name, alone.out, p.out, p.name)
}

// pauseRow: the printer's pause from one card out to the next blank taken
// (its own journal), through the station against alone — the part of the
// cycle the station's work between two cards adds to.
func (b *bench) pauseRow(scenario, aloneOut, engOut, name string) error {
	pa, err := pause(aloneOut)
	if err != nil {
		return err
	}
	pe, err := pause(engOut)
	if err != nil {
		return err
	}
	b.add(row{Scenario: scenario, Figure: fmt.Sprintf("%s: card out → next blank taken (median; the eject's own time included)", name),
		Value: ms(pe), Baseline: "alone " + ms(pa), Ratio: ratio(pe, pa), Target: "—"})
	return nil
}

// alone drives the printer alone (the device path) for n cards: at once,
// before the station's run, or — paired — while the station prints, so
// that both sides meet the same load on a shared machine. The returned
// wait reports when it is done.
func (b *bench) alone(r *rig, sim *simProc, w *work, n int) (wait func() error) {
	if !b.paired {
		_, err := devicePath(sim, w, n)
		return func() error {
			if err != nil {
				return fmt.Errorf("device path: %w", err)
			}
			return nil
		}
	}
	done := make(chan error, 1)
	r.started = func() {
		go func() {
			_, err := devicePath(sim, w, n)
			done <- err
		}()
	}
	return func() error {
		r.started = nil
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("device path: %w", err)
			}
			return nil
		case <-time.After(10 * time.Minute):
			return fmt.Errorf("device path: not done 10 minutes after the station's run")
		}
	}
}

func passIf(applies, ok bool) *bool {
	if !applies {
		return nil
	}
	return ptr(ok)
}

// fourOnOneCPU: printstationd pinned to one CPU drives four printers at
// ×10; each printer's pace against the same printer driven alone. The jobs
// carry no chip (vpcd has two virtual readers, not four).
func (b *bench) fourOnOneCPU() error {
	const speed = 10.0
	perPrinter := b.fourCards
	n := 4 * perPrinter
	w, err := prepareCard(7, false)
	if err != nil {
		return err
	}
	r, err := newRig(b.bin, b.subdir("four"), centralOpts{jobs: n, noChip: true})
	if err != nil {
		return err
	}
	defer r.close()
	alone, err := r.newSim("alone", speed, perPrinter+5, 0, "")
	if err != nil {
		return err
	}
	wait := b.alone(r, alone, w, perPrinter)
	for i := 0; i < 4; i++ {
		if _, err := r.addPrinter(speed, n+5, 0, ""); err != nil {
			return err
		}
	}
	cpu, _, err := r.runBatch(daemonOpts{taskset: "0"}, n, 10*time.Minute)
	if err != nil {
		return err
	}
	if err := wait(); err != nil {
		return err
	}
	base, _, err := cycle(alone.out)
	if err != nil {
		return err
	}
	for _, p := range r.printers {
		eng, cards, err := cycle(p.out)
		if err != nil {
			return err
		}
		u := ratio(base, eng)
		b.add(row{Scenario: "four", Figure: fmt.Sprintf("4 printers ×10, daemon on one CPU (taskset -c 0): utilization of %s (%d cards, no chip)", p.name, cards),
			Value: ms(eng) + "/card", Baseline: "alone " + ms(base) + "/card", Ratio: u, Target: "≥ 0.99", Pass: ptr(u >= 0.99)})
	}
	for _, p := range r.printers {
		if err := b.pauseRow("four", alone.out, p.out, p.name); err != nil {
			return err
		}
	}
	b.add(row{Scenario: "four", Figure: "daemon CPU per card in the four-printer run (after the batch start commands)", Value: ms(cpu / time.Duration(n)), Baseline: "—", Target: "—"})
	return nil
}

// outage: cards per hour through a 4-hour central outage (4h/speed of wall
// time at speed ×speed, one printer, no chip), against the same station
// with the link up, and against a station that fetches each job online
// (prefetch window of one job).
func (b *bench) outage(speed float64) error {
	window := time.Duration(float64(4*time.Hour) / speed)
	// A real printer takes ≈ 20 s a card: 4 hours is ≈ 720 cards; the
	// station must hold them before the link goes.
	const jobs, prefetch = 800, 1000
	type mode struct {
		name     string
		prefetch int
		down     bool
	}
	modes := []mode{{"link up", prefetch, false}, {"link down", prefetch, true}, {"online fetch, link down", 1, true}}
	perHour := map[string]float64{}
	for _, m := range modes {
		r, err := newRig(b.bin, b.subdir("outage-"+strings.ReplaceAll(strings.ReplaceAll(m.name, " ", "-"), ",", "")), centralOpts{jobs: jobs, batch: 100, noChip: true, photoPool: 50})
		if err != nil {
			return err
		}
		n, err := func() (int, error) {
			defer r.close()
			if _, err := r.addPrinter(speed, jobs+5, 0, ""); err != nil {
				return 0, err
			}
			o := daemonOpts{prefetch: m.prefetch}
			if err := r.startWithJobs(o, min(jobs, m.prefetch), 5*time.Minute); err != nil {
				return 0, err
			}
			if err := r.stock(jobs + 5); err != nil {
				return 0, err
			}
			if m.down {
				if err := r.setLink(false); err != nil {
					return 0, err
				}
			}
			if err := r.startBatches(); err != nil {
				return 0, err
			}
			end := time.Now().Add(window)
			// Batches that arrive later (link up) are started as they come.
			for time.Now().Before(end) {
				time.Sleep(min(time.Second, time.Until(end)))
				if !m.down {
					r.startBatches()
				}
			}
			st, err := r.status()
			if err != nil {
				return 0, err
			}
			_, printed, waiting := st.totals()
			if waiting > 0 {
				return 0, fmt.Errorf("%s: %d job(s) wait for a person", m.name, waiting)
			}
			return printed, nil
		}()
		if err != nil {
			return err
		}
		perHour[m.name] = float64(n) / 4 // cards in 4 simulated hours
	}
	up, down, online := perHour["link up"], perHour["link down"], perHour["online fetch, link down"]
	rd := 0.0
	if up > 0 {
		rd = down / up
	}
	b.add(row{Scenario: "outage", Figure: fmt.Sprintf("cards/h through a 4-hour outage (×%g: %s wall, 1 printer, no chip, prefetch %d)", speed, window, prefetch),
		Value: fmt.Sprintf("%.0f cards/h", down), Baseline: fmt.Sprintf("link up %.0f cards/h", up), Ratio: rd, Target: "≥ 0.99", Pass: ptr(rd >= 0.99)})
	ro := 0.0
	if online > 0 {
		ro = down / online
	}
	b.add(row{Scenario: "outage", Figure: "… against a station fetching each job online (prefetch 1), link down",
		Value: fmt.Sprintf("%.0f cards/h", down), Baseline: fmt.Sprintf("online %.0f cards/h", online), Ratio: ro, Target: "reported"})
	return nil
}

// startWithQueue: start to READY=1 and RSS of printstationd holding n
// queued jobs, against the same with an empty queue.
func (b *bench) startWithQueue(n int) error {
	measure := func(name string, jobs int) (ready time.Duration, rss, hwm int64, err error) {
		// 50 different photos handed out in turn: the jobs have their real
		// size, and centralsim does not spend minutes drawing faces.
		r, err := newRig(b.bin, b.subdir(name), centralOpts{jobs: jobs, batch: 500, photoPool: 50})
		if err != nil {
			return 0, 0, 0, err
		}
		defer r.close()
		if _, err := r.addPrinter(0, 10, 0, ""); err != nil {
			return 0, 0, 0, err
		}
		o := daemonOpts{prefetch: max(jobs, 1), poll: 1}
		if err := r.writeConfig(o); err != nil {
			return 0, 0, 0, err
		}
		if jobs > 0 {
			if _, err := r.startDaemon(o); err != nil {
				return 0, 0, 0, err
			}
			if err := r.waitJobs(jobs, 15*time.Minute); err != nil {
				return 0, 0, 0, err
			}
			r.daemon.stop(30 * time.Second)
		}
		// The measured start: the central link down, so that READY and
		// memory are the queue's, not a sync's.
		if err := r.setLink(false); err != nil {
			return 0, 0, 0, err
		}
		ready, err = r.startDaemon(o)
		if err != nil {
			return 0, 0, 0, err
		}
		time.Sleep(3 * time.Second) // the first housekeeping and sync attempt
		rss, hwm, err = memKB(r.daemonPID())
		return ready, rss, hwm, err
	}
	r0, rss0, hwm0, err := measure("start-empty", 0)
	if err != nil {
		return err
	}
	r1, rss1, hwm1, err := measure("start-queued", n)
	if err != nil {
		return err
	}
	b.add(row{Scenario: "start", Figure: fmt.Sprintf("start to READY=1 with %d queued jobs", n),
		Value: ms(r1), Baseline: "empty queue " + ms(r0), Ratio: ratio(r1, r0), Target: "≤ 300 ms", Pass: ptr(r1 <= 300*time.Millisecond)})
	b.add(row{Scenario: "start", Figure: fmt.Sprintf("RSS of printstationd with %d queued jobs (3 s after READY; peak %d KB)", n, hwm1),
		Value: fmt.Sprintf("%.1f MB", float64(rss1)/1024), Baseline: fmt.Sprintf("empty queue %.1f MB (peak %d KB)", float64(rss0)/1024, hwm0),
		Ratio: float64(rss1) / float64(max(rss0, 1)), Target: "≤ 40 MB", Pass: ptr(rss1 <= 40*1024)})
	return nil
}

// startWithJobs writes the station's configuration, starts printstationd
// and waits until n jobs have arrived from the centre.
func (r *rig) startWithJobs(o daemonOpts, n int, within time.Duration) error {
	if err := r.writeConfig(o); err != nil {
		return err
	}
	if _, err := r.startDaemon(o); err != nil {
		return err
	}
	return r.waitJobs(n, within)
}
