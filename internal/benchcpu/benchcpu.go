// Package benchcpu compares the CPU time of two ways of doing one thing in
// a benchmark, alternated call by call: on a machine shared with other
// work, wall time and back-to-back runs measure the neighbours as much as
// the code; the calling thread's own CPU time, old and new interleaved,
// gives a same-run ratio. For benchmarks only.
package benchcpu

import (
	"runtime"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the calling OS thread's CPU time, from the scheduler's
// own accounting (CLOCK_THREAD_CPUTIME_ID, nanoseconds; getrusage counts
// in clock ticks of 4 ms here, coarser than what is measured).
func threadCPU() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// Compare runs each named function once per benchmark iteration, in turn,
// on one locked thread, and reports the median CPU time of each as
// "ms-<name>" and, for two functions, the ratio second/first as
// "<second>/<first>". (Work a function leaves to other goroutines, such as
// the garbage collector's, is not counted.)
func Compare(b *testing.B, names []string, fns ...func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	times := make([][]time.Duration, len(fns))
	for b.Loop() {
		for i, f := range fns {
			t0 := threadCPU()
			f()
			times[i] = append(times[i], threadCPU()-t0)
		}
	}
	med := make([]float64, len(fns))
	for i, ts := range times {
		slices.Sort(ts)
		med[i] = float64(ts[len(ts)/2]) / 1e6
		b.ReportMetric(med[i], "ms-"+names[i])
	}
	if len(fns) == 2 && med[0] > 0 {
		b.ReportMetric(med[1]/med[0], names[1]+"/"+names[0])
	}
}
