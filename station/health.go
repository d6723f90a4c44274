package station

import (
	"context"
	"fmt"
	"time"

	"printstation/printer"
	"printstation/station/localapi"
)

// PrinterHealth is one printer's health (localapi.PrinterHealth).
type PrinterHealth = localapi.PrinterHealth

// PrinterHealth reads a printer for the technician's page. It never waits
// for a card: when the printer is busy it returns the last readings,
// marked stale.
func (e *Engine) PrinterHealth(ctx context.Context, name string) (*PrinterHealth, error) {
	w := e.byName[name]
	if w == nil {
		return nil, fmt.Errorf("no printer named %q on this station", name)
	}
	var h *PrinterHealth
	if w.tryAcquire(healthWait(w)) {
		h = e.readHealth(ctx, w)
		w.release()
		w.mu.Lock()
		w.health = h
		w.mu.Unlock()
	} else {
		w.mu.Lock()
		last := w.health
		w.mu.Unlock()
		if last != nil {
			c := *last
			h = &c
		} else {
			h = &PrinterHealth{Name: name}
		}
		h.Stale = true
	}
	h.State = w.snapshot()
	h.Guide = GuideFor(h.State)
	for _, pc := range e.config().Printers {
		if pc.Name == name {
			h.EncoderReader = pc.EncoderReader
		}
	}
	if te, ok := w.enc.(*timedEncoder); ok {
		h.EncoderLast = te.lastUse()
	}
	return h, nil
}

// readHealth reads everything, holding the printer; a failed reading is
// noted and the others go on.
func (e *Engine) readHealth(ctx context.Context, w *worker) *PrinterHealth {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	h := &PrinterHealth{Name: w.name, Read: time.Now()}
	fail := func(step string, err error) { h.Errors = append(h.Errors, step+": "+err.Error()) }
	d, err := e.driverOf(ctx, w)
	if err != nil {
		fail("driver", err)
		return h
	}
	if v, err := d.Info(ctx); err == nil {
		h.Info = &v
	} else {
		fail("info", err)
	}
	if v, err := w.p.Status(ctx); err == nil {
		h.Status = &v
	} else {
		fail("status", err)
	}
	if v, err := w.p.Counters(ctx); err == nil {
		h.Counters = &v
		if cs, err := e.cleaning(ctx, w, v); err == nil {
			h.Cleaning = &cs
		} else {
			fail("cleaning", err)
		}
	} else {
		fail("counters", err)
	}
	if t, ok := d.(printer.Technician); ok {
		if v, err := t.Sensors(ctx); err == nil {
			h.Sensors = v
		} else {
			fail("sensors", err)
		}
	}
	return h
}

// healthWait: between cards the worker holds the printer only for its
// short readiness check, so the page waits that out; with a card in
// flight it does not wait.
func healthWait(w *worker) time.Duration {
	if w.busy.Load() {
		return 0
	}
	return 3 * time.Second
}

// tryAcquire takes the printer if it is free within d (0: only if free now).
func (w *worker) tryAcquire(d time.Duration) bool {
	select {
	case w.use <- struct{}{}:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case w.use <- struct{}{}:
		return true
	case <-t.C:
		return false
	}
}
