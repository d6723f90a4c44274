//go:build cpuprofile

package main

// A CPU profile of exactly the window a benchmark measures: built only
// with -tags cpuprofile (bench/station --profile does that), never in the
// binaries a station runs. SIGUSR1 starts writing the profile to
// $PRINTSTATIOND_CPUPROFILE, SIGUSR2 stops it; the benchmark sends them
// where it reads the daemon's CPU from /proc, so the profile and the
// figure cover the same cards.

import (
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func init() {
	path := os.Getenv("PRINTSTATIOND_CPUPROFILE")
	if path == "" {
		return
	}
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, syscall.SIGUSR1, syscall.SIGUSR2)
	go func() {
		var f *os.File
		for s := range sig {
			switch {
			case s == syscall.SIGUSR1 && f == nil:
				var err error
				if f, err = os.Create(path); err != nil {
					fmt.Fprintln(os.Stderr, "cpuprofile:", err)
					continue
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					fmt.Fprintln(os.Stderr, "cpuprofile:", err)
					f.Close()
					f = nil
				}
			case s == syscall.SIGUSR2 && f != nil:
				pprof.StopCPUProfile()
				f.Close()
				f = nil
			}
		}
	}()
}
