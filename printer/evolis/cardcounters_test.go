package evolis_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"printstation/printer"
	"printstation/printer/evolis"
	"printstation/printer/tcp"
	simprinter "printstation/sim/printer"
)

// countingConn counts the counter reads (Rco) a driver sends.
type countingConn struct {
	printer.Conn
	mu  sync.Mutex
	rco []string
}

func (c *countingConn) Write(ctx context.Context, p []byte) (int, error) {
	if i := bytes.Index(p, []byte("Rco;")); i >= 0 {
		c.mu.Lock()
		c.rco = append(c.rco, string(bytes.TrimRight(p[i:], "\r")))
		c.mu.Unlock()
	}
	return c.Conn.Write(ctx, p)
}

// CardCounters reads the cards inserted and the cleanings — the same
// values Counters reads — with two commands instead of six.
func TestCardCountersReadsTwo(t *testing.T) {
	sim := newSim(t, simprinter.Config{Feeder: 3})
	conn := &countingConn{}
	dial := func(ctx context.Context) (printer.Conn, error) {
		conn.Conn = tcp.Wrap(sim.Pipe())
		return conn, nil
	}
	d, err := evolis.Open(context.Background(), "pipe", dial, printer.Options{Name: "p1"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	if err := d.Feed(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Reject(ctx); err != nil {
		t.Fatal(err)
	}
	full, err := d.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	conn.mu.Lock()
	conn.rco = nil
	conn.mu.Unlock()
	short, err := d.CardCounters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if short.CardsInserted != full.CardsInserted || short.CardsInserted != 1 || short.Cleanings != full.Cleanings {
		t.Errorf("CardCounters %+v, Counters %+v: cards inserted and cleanings differ", short, full)
	}
	conn.mu.Lock()
	defer conn.mu.Unlock()
	if len(conn.rco) != 2 || conn.rco[0] != "Rco;c" || conn.rco[1] != "Rco;n" {
		t.Errorf("CardCounters sent %q, want Rco;c and Rco;n only", conn.rco)
	}
}
