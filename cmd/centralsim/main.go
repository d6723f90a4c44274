// Command centralsim runs the reference central server for demos and crash
// tests: mTLS on --listen, keys, certificates and state in --dir.
//
//	centralsim --listen 127.0.0.1:8443 --dir /tmp/central --station ST-3201-01 --jobs 50 --batch-size 10
//
// `centralsim --dir D --export ST-3201-01 > centre.json` prints the
// centre's witness record of a station for `audit verify --centre`.
//
// It writes, for the station, the client certificate, CA and issuer key file
// a station config points at, and prints their paths. Faults can be changed
// at run time with POST /admin/faults (JSON, see sim/central.Faults).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"printstation/sim/central"
	"printstation/sim/central/imgenc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("centralsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8443", "address to serve HTTPS (mTLS) on")
	dir := fs.String("dir", "", "directory for keys, certificates and state (required)")
	station := fs.String("station", "", "station id to issue jobs for and write client files for")
	jobs := fs.Int("jobs", 0, "jobs to issue for --station at start")
	batch := fs.Int("batch-size", 25, "jobs per batch")
	photoPool := fs.Int("photo-pool", 0, "draw only this many different photos and hand them out in turn (0: one per job); for benchmarks that queue many jobs")
	images := fs.String("images", "webp", "how photos and signature images are sent: webp (lossless) or png (the earlier form, to measure against); the same pixels either way")
	noChip := fs.Bool("no-chip", false, "issue jobs without chip data (for printers without an encoder)")
	faults := fs.String("faults", "", `initial faults as JSON, e.g. '{"latency_ms":500,"error_rate":0.1}'`)
	export := fs.String("export", "", "print the witness record of this station (for audit verify --centre) and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *dir == "" {
		fmt.Fprintln(stderr, "centralsim: --dir is required (keys and state are kept there)")
		return 2
	}
	format, err := imgenc.ParseFormat(*images)
	if err != nil {
		fmt.Fprintf(stderr, "centralsim: --images: %v\n", err)
		return 2
	}
	opts := central.Options{Dir: *dir, NoChip: *noChip, PhotoPool: *photoPool, ImageFormat: format, Logger: zerolog.New(stderr).With().Timestamp().Logger()}
	if *faults != "" {
		if err := json.Unmarshal([]byte(*faults), &opts.Faults); err != nil {
			fmt.Fprintf(stderr, "centralsim: --faults: %v\n", err)
			return 2
		}
	}
	srv, err := central.New(opts)
	if err != nil {
		fmt.Fprintf(stderr, "centralsim: %v\n", err)
		return 1
	}
	defer srv.Close()
	if *export != "" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(srv.Export(*export)); err != nil {
			fmt.Fprintf(stderr, "centralsim: %v\n", err)
			return 1
		}
		return 0
	}
	if *station != "" {
		files, err := srv.StationFiles(*station)
		if err != nil {
			fmt.Fprintf(stderr, "centralsim: %v\n", err)
			return 1
		}
		json.NewEncoder(stdout).Encode(map[string]any{"station": *station, "files": files, "template": srv.TemplateRef()})
		if *jobs > 0 {
			ids, err := srv.IssueJobs(*station, *jobs, *batch)
			if err != nil {
				fmt.Fprintf(stderr, "centralsim: %v\n", err)
				return 1
			}
			fmt.Fprintf(stderr, "centralsim: issued %d jobs for %s\n", len(ids), *station)
		}
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "centralsim: %v\n", err)
		return 1
	}
	hs, err := srv.ServeTLS(l)
	if err != nil {
		fmt.Fprintf(stderr, "centralsim: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "centralsim: serving on https://%s\n", l.Addr())
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	return 0
}
