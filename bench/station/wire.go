package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay forwards TCP connections from the station to the centre and counts
// the bytes each way: what crosses the link, TLS records, handshakes, HTTP
// headers and long polls included.
type relay struct {
	l        net.Listener
	target   string
	down, up atomic.Int64 // centre → station, station → centre
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func startRelay(target string) (*relay, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{l: l, target: target}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed
			}
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				r.pipe(c)
			}()
		}
	}()
	return r, nil
}

func (r *relay) addr() string { return r.l.Addr().String() }

func (r *relay) pipe(c net.Conn) {
	s, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		c.Close()
		return
	}
	r.mu.Lock()
	r.conns = append(r.conns, c, s)
	r.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	cp := func(dst, src net.Conn, n *atomic.Int64) {
		defer wg.Done()
		k, _ := io.Copy(dst, src)
		n.Add(k)
		// One side ended: end the other, so that both copies return.
		dst.Close()
		src.Close()
	}
	go cp(c, s, &r.down)
	go cp(s, c, &r.up)
	wg.Wait()
}

// close stops the relay and returns the bytes that crossed it each way.
// A copy adds its bytes when it returns, so open connections are closed
// first and every copy waited for.
func (r *relay) close() (down, up int64) {
	r.l.Close()
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return r.down.Load(), r.up.Load()
}

// wireBytes measures bytes on the wire per job between the real centralsim
// and the real printstationd: the station syncs the same jobs from a centre
// sending WebP lossless images (its default) and, in the same run, from one
// sending PNG (the earlier form), through a counting relay. Everything the
// link carries while the station fetches n jobs is counted, both ways: the
// gzip'd feed pages, TLS, HTTP, the template, the long polls.
func (b *bench) wireBytes(n int) error {
	per := map[string]float64{}
	for _, images := range []string{"webp", "png"} {
		r, err := newRig(b.bin, b.subdir("wire-"+images), centralOpts{jobs: n, batch: 50, images: images})
		if err != nil {
			return err
		}
		down, up, err := func() (int64, int64, error) {
			defer r.close()
			rl, err := startRelay(r.centralAddr)
			if err != nil {
				return 0, 0, err
			}
			closed := false
			defer func() {
				if !closed {
					rl.close()
				}
			}()
			r.linkAddr = rl.addr()
			if _, err := r.addPrinter(0, 10, 0, ""); err != nil {
				return 0, 0, err
			}
			o := daemonOpts{prefetch: n, poll: 1}
			if err := r.startWithJobs(o, n, 5*time.Minute); err != nil {
				return 0, 0, err
			}
			r.daemon.stop(30 * time.Second)
			closed = true
			down, up := rl.close()
			return down, up, nil
		}()
		if err != nil {
			return fmt.Errorf("%s: %w", images, err)
		}
		if down == 0 {
			return errors.New("the relay counted nothing: the station did not use it")
		}
		per[images] = float64(down+up) / float64(n)
		fmt.Fprintf(b.out, "  %s: %d bytes down, %d up for %d jobs\n", images, down, up, n)
	}
	b.add(row{Scenario: "wire", Figure: fmt.Sprintf("bytes on the wire per job, centralsim → printstationd (TLS, HTTP, gzip'd feed, both ways; %d jobs with chip data; images WebP lossless)", n),
		Value: fmt.Sprintf("%.0f B", per["webp"]), Baseline: fmt.Sprintf("the same jobs with PNG images %.0f B", per["png"]),
		Ratio: per["webp"] / per["png"], Target: "≤ 25 KB (25 000 B)", Pass: ptr(per["webp"] <= 25000)})
	return nil
}
