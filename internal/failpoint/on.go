//go:build failpoints

package failpoint

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Enabled reports whether this binary was built with failpoints.
const Enabled = true

type action struct {
	kind  string // kill or hold
	dir   string
	nth   int
	seen  int
	fired bool
}

var (
	mu      sync.Mutex
	actions map[string]*action
	parsed  bool
)

func parse() {
	actions = map[string]*action{}
	for _, item := range strings.Split(os.Getenv(EnvVar), ";") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, spec, ok := strings.Cut(item, "=")
		if !ok {
			fmt.Fprintf(os.Stderr, "failpoint: %q: expected NAME=ACTION\n", item)
			continue
		}
		a := &action{nth: 1}
		if s, n, ok := strings.Cut(spec, "@"); ok {
			spec = s
			if v, err := strconv.Atoi(n); err == nil && v > 0 {
				a.nth = v
			}
		}
		switch {
		case spec == "kill":
			a.kind = "kill"
		case strings.HasPrefix(spec, "hold:"):
			a.kind, a.dir = "hold", strings.TrimPrefix(spec, "hold:")
		default:
			fmt.Fprintf(os.Stderr, "failpoint: %q: unknown action (kill or hold:DIR)\n", item)
			continue
		}
		actions[name] = a
	}
}

// Hit runs the action set for the named point, if any.
func Hit(name string) {
	mu.Lock()
	if !parsed {
		parse()
		parsed = true
	}
	a := actions[name]
	if a == nil || a.fired {
		mu.Unlock()
		return
	}
	a.seen++
	if a.seen < a.nth {
		mu.Unlock()
		return
	}
	a.fired = true
	mu.Unlock()
	fmt.Fprintf(os.Stderr, "failpoint %s: %s\n", name, a.kind)
	switch a.kind {
	case "kill":
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	case "hold":
		os.WriteFile(filepath.Join(a.dir, name+".hit"), []byte(strconv.Itoa(os.Getpid())), 0o644)
		end := time.Now().Add(2 * time.Minute)
		for time.Now().Before(end) {
			if _, err := os.Stat(filepath.Join(a.dir, name+".go")); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
