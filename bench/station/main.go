// Command station benchmarks a whole print station made of the real
// processes — printstationd, printersim and centralsim, built binaries
// started as separate processes — and prints one table row per figure of
// issue 18, each beside a baseline measured in the same run, with PASS or
// FAIL against its target.
//
//	go run ./bench/station [--only cpu,util,four,outage,start,wire] [--bin DIR]
//	make bench-station
//
// CPU is read from /proc/<pid>/stat of printstationd (user+system, all
// threads), not from the wall clock: the machine may be shared. Printer
// utilization is read from the printer simulator's own journal (time from
// one blank taken to the next), the same clock for the printer driven alone
// and through the station. The chip is written to a virtual card on the real
// pcscd when the test bed is there (the test bed lock is held for the run);
// without it the figures say "no chip".
//
// Nothing here asserts: the command prints the table (and --json) and exits
// 1 only when a scenario could not run.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"printstation/sim/chip/vicc"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// row is one figure of the table.
type row struct {
	Scenario string  `json:"scenario"`
	Figure   string  `json:"figure"`
	Value    string  `json:"value"`
	Baseline string  `json:"baseline"`
	Ratio    float64 `json:"ratio"` // value/baseline as the figure defines it; 0 when none
	Target   string  `json:"target"`
	Pass     *bool   `json:"pass,omitempty"`
}

type bench struct {
	bin, dir string
	chip     bool // virtual cards on pcscd
	cards    int
	// utilCards, fourCards: cards per printer of the ×10 utilization
	// scenarios (the figure is a median; more cards, less noise).
	utilCards, fourCards int
	// paired: the printer alone runs at the same time as the station's
	// printers, not before them.
	paired bool
	// pin: in the CPU scenario, printstationd on CPU 0 and the simulators
	// (printer, centre) on CPU 1 — they are other machines in a station.
	pin  bool
	out  io.Writer
	rows []row
}

func (b *bench) add(r row) {
	b.rows = append(b.rows, r)
	pass := "—"
	if r.Pass != nil {
		pass = map[bool]string{true: "PASS", false: "FAIL"}[*r.Pass]
	}
	fmt.Fprintf(b.out, "  %s: %s (baseline %s, ratio %.3f, target %s) %s\n", r.Figure, r.Value, r.Baseline, r.Ratio, r.Target, pass)
}

func ptr(v bool) *bool { return &v }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-station", flag.ContinueOnError)
	fs.SetOutput(stderr)
	only := fs.String("only", "cpu,util,four,outage,start,wire", "scenarios to run, comma-separated: cpu, util, x1, four, outage, start, wire")
	bin := fs.String("bin", "", "directory with printstationd, printstationctl, printersim and centralsim (default: build them)")
	keep := fs.Bool("keep", false, "keep the work directory (databases, journals, logs)")
	chipMode := fs.String("chip", "auto", "chip on a virtual card on pcscd: auto, on, off")
	cards := fs.Int("cards", 40, "cards for the CPU scenario")
	utilCards := fs.Int("util-cards", 10, "cards of the ×10 utilization scenario (util)")
	fourCards := fs.Int("four-cards", 10, "cards per printer of the four-printer scenario (four)")
	pin := fs.Bool("pin", true, "cpu: run printstationd on CPU 0 and the printer and centre simulators on CPU 1 (needs 2 CPUs); false: all share every CPU")
	paired := fs.Bool("paired", true, "util and four: drive the printer alone while the station prints (the same load on both sides), not before")
	outage := fs.Float64("outage-speed", 240, "speed factor of the outage scenario: 4 hours take 4h/speed")
	startJobs := fs.Int("start-jobs", 10000, "queued jobs for the start/RSS scenario")
	wireJobs := fs.Int("wire-jobs", 100, "jobs for the bytes-on-the-wire scenario")
	jsonOut := fs.String("json", "", "also write the rows as JSON to this file")
	denv := fs.String("daemon-env", "", "extra environment of printstationd only, comma-separated (e.g. GOGC=200,GOMEMLIMIT=48MiB), to compare runtime settings in one run")
	profile := fs.String("profile", "", "write a CPU profile of each batch's measured window to DIR/<scenario>.pprof (the binaries are built with -tags cpuprofile; not with --bin)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *profile != "" {
		if *bin != "" {
			fmt.Fprintln(stderr, "bench-station: --profile builds its own binaries; leave out --bin")
			return 2
		}
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			fmt.Fprintln(stderr, "bench-station:", err)
			return 1
		}
		profileDir, _ = filepath.Abs(*profile)
	}
	if *denv != "" {
		daemonEnv = strings.Split(*denv, ",")
	}
	dir, err := os.MkdirTemp("", "bench-station-")
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(stderr, "work directory:", dir)
	}
	b := &bench{bin: *bin, dir: dir, cards: *cards, utilCards: *utilCards, fourCards: *fourCards, paired: *paired, pin: *pin && numCPU() >= 2, out: stdout}
	if b.bin == "" {
		b.bin = filepath.Join(dir, "bin")
		fmt.Fprintln(stderr, "building the binaries…")
		build := []string{"build", "-o", b.bin + "/"}
		if profileDir != "" {
			build = append(build, "-tags", "cpuprofile")
		}
		cmd := exec.Command("go", append(build, "./cmd/...")...)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(stderr, "bench-station: building ./cmd/... (run it from the repository root):", err)
			return 1
		}
	}
	b.chip, err = chipBed(*chipMode, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench-station:", err)
		return 1
	}
	if b.chip {
		// The virtual readers are shared with the chip tests: hold the
		// test bed for the run; the printersim children inherit the hold.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		release, err := vicc.LockTestbed(ctx)
		cancel()
		if err != nil {
			fmt.Fprintln(stderr, "bench-station: the PC/SC test bed stayed busy:", err)
			return 1
		}
		defer release()
	}
	fmt.Fprintf(stdout, "bench-station: %s, chip on a virtual card: %v, CPUs: %d\n", time.Now().Format(time.RFC3339), b.chip, numCPU())
	failed := 0
	scen := map[string]func() error{
		"cpu": func() error {
			// Item 1's figure without the chip; with it, reported beside.
			if err := b.cpuPerCard(false); err != nil || !b.chip {
				return err
			}
			return b.cpuPerCard(true)
		},
		"util":   func() error { return b.utilization(10, b.utilCards) },
		"x1":     func() error { return b.utilization(1, 10) },
		"four":   b.fourOnOneCPU,
		"outage": func() error { return b.outage(*outage) },
		"start":  func() error { return b.startWithQueue(*startJobs) },
		"wire":   func() error { return b.wireBytes(*wireJobs) },
	}
	for _, name := range strings.Split(*only, ",") {
		name = strings.TrimSpace(name)
		f, ok := scen[name]
		if !ok {
			fmt.Fprintf(stderr, "bench-station: unknown scenario %q\n", name)
			return 2
		}
		fmt.Fprintf(stdout, "[%s]\n", name)
		if err := f(); err != nil {
			fmt.Fprintf(stdout, "  %s: could not run: %v\n", name, err)
			failed++
		}
	}
	fmt.Fprintln(stdout)
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tbaseline (same run)\tratio\ttarget\t")
	for _, r := range b.rows {
		pass := ""
		if r.Pass != nil {
			pass = map[bool]string{true: "PASS", false: "FAIL"}[*r.Pass]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\n", r.Figure, r.Value, r.Baseline, r.Ratio, r.Target, pass)
	}
	tw.Flush()
	if *jsonOut != "" {
		j, _ := json.MarshalIndent(b.rows, "", "  ")
		os.WriteFile(*jsonOut, j, 0o644)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func numCPU() int {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\nprocessor") + map[bool]int{true: 1, false: 0}[strings.HasPrefix(string(b), "processor")]
}

func readerName(port int) string { return vicc.ReaderName(port) }

// vpcdPorts are the two virtual readers vpcd offers.
var vpcdPorts = []int{35963, 35964}

func chipBed(mode string, log io.Writer) (bool, error) {
	switch mode {
	case "off":
		return false, nil
	case "auto", "on":
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := vicc.EnsurePcscd(ctx)
		if err == nil {
			return true, nil
		}
		if mode == "on" {
			return false, fmt.Errorf("--chip on: pcscd with vpcd is not available (%v); make testbed-up starts it", err)
		}
		fmt.Fprintf(log, "bench-station: no pcscd test bed (%v): chips are left out\n", err)
		return false, nil
	}
	return false, fmt.Errorf("--chip %q: expected auto, on or off", mode)
}

func (b *bench) subdir(name string) string {
	d := filepath.Join(b.dir, name)
	os.MkdirAll(d, 0o755)
	return d
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
