package jobqueue_test

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// TestSyncOverSlowLink: 64 kbit/s, 1 s latency, some connections cut
// mid-answer — the station still fills its prefetch window.
func TestSyncOverSlowLink(t *testing.T) {
	if testing.Short() {
		t.Skip("takes tens of seconds at 64 kbit/s")
	}
	srv, url, files := centre(t, central.Faults{})
	api := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	listen := l.Addr().String()
	l.Close()
	proxy := toxiproxy.NewProxy(api, "central", listen, strings.TrimPrefix(url, "https://"))
	if err := proxy.Start(); err != nil {
		t.Fatal(err)
	}
	defer proxy.Stop()
	for _, tox := range []string{
		`{"name":"lat","type":"latency","stream":"downstream","attributes":{"latency":1000}}`,
		`{"name":"bw","type":"bandwidth","stream":"downstream","attributes":{"rate":8}}`,                       // 8 KB/s = 64 kbit/s
		`{"name":"bwup","type":"bandwidth","stream":"upstream","attributes":{"rate":8}}`,                       // both ways
		`{"name":"cut","type":"limit_data","stream":"downstream","toxicity":0.3,"attributes":{"bytes":40000}}`, // 30% of connections die after 40 KB
	} {
		if _, err := proxy.Toxics.AddToxicJson(strings.NewReader(tox)); err != nil {
			t.Fatalf("toxic %s: %v", tox, err)
		}
	}
	const window = 4
	if _, err := srv.IssueJobs(station, 10, 5); err != nil {
		t.Fatal(err)
	}
	q := stationQueue(t, files, filepath.Join(t.TempDir(), "station.db"))
	c := client(t, "https://"+listen, files)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := jobqueue.NewSyncer(q, c, jobqueue.SyncOptions{PrefetchJobs: window, Wait: 5 * time.Second, MinBackoff: 100 * time.Millisecond, MaxBackoff: time.Second, IdlePoll: 200 * time.Millisecond})
	go s.Run(ctx)
	start := time.Now()
	waitFor(t, "prefetch window full", func() bool {
		w, _ := q.Pending(ctx)
		js, _ := q.Jobs(ctx, "", jobqueue.Queued)
		return w.Jobs >= window && len(js) >= window
	})
	w, _ := q.Pending(ctx)
	t.Logf("window of %d jobs (%d bytes) filled in %s over 64 kbit/s + 1 s latency; sync status %+v", w.Jobs, w.Bytes, time.Since(start).Round(time.Second), s.Status())
	if w.Jobs > window {
		t.Errorf("held %d jobs, window is %d", w.Jobs, window)
	}
}
