package test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"

	"printstation/sim/central"
	"printstation/station/localapi"
)

// centreAdmin is an HTTPS client of the centre with the station's own
// certificate, for the centralsim's admin routes.
type centreAdmin struct {
	t   *testing.T
	url string
	hc  *http.Client
}

func newCentreAdmin(t *testing.T, s *e2e) *centreAdmin {
	t.Helper()
	var cfg struct {
		Central struct {
			URL        string `toml:"url"`
			ClientCert string `toml:"client_cert"`
			ClientKey  string `toml:"client_key"`
			CAFile     string `toml:"ca_file"`
		} `toml:"central"`
	}
	if _, err := toml.DecodeFile(s.cfg, &cfg); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(cfg.Central.ClientCert, cfg.Central.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(cfg.Central.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &centreAdmin{t: t, url: cfg.Central.URL, hc: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}}}}
}

// do calls an admin route; it fails the test unless the centre answers 200.
func (c *centreAdmin) do(method, path, body string, out any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.url+path, strings.NewReader(body))
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("centre %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		c.t.Fatalf("centre %s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("centre %s %s: %v: %s", method, path, err, b)
		}
	}
}

func (c *centreAdmin) blankRequests(station string) []central.BlankRequest {
	var out []central.BlankRequest
	c.do("GET", "/admin/blank-requests?station="+station, "", &out)
	return out
}

// stopCentral takes the centre away (the link is down: nothing answers on
// its address).
func (s *e2e) stopCentral() {
	s.t.Helper()
	s.central.Process.Kill()
	s.central.Wait()
}

// startCentral starts the centre again on the same address and state,
// with faults (centralsim --faults JSON, "" for none).
func (s *e2e) startCentral(faults string) {
	s.t.Helper()
	var args []string
	for i := 1; i < len(s.central.Args); i++ {
		if s.central.Args[i] == "--faults" {
			i++
			continue
		}
		args = append(args, s.central.Args[i])
	}
	if faults != "" {
		args = append(args, "--faults", faults)
	}
	cmd := exec.Command(s.central.Path, args...)
	out := &lockedBuf{}
	cmd.Stdout, cmd.Stderr = io.Discard, out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.central = cmd // newE2E's cleanup stops the one running at the end
	waitFor(s.t, 30*time.Second, func() bool { return strings.Contains(out.String(), "serving on") }, "centralsim serving again")
}

// waitLinked waits until the daemon has met the centre (its start-up
// witness check passed and the syncer pulls).
func (s *e2e) waitLinked() {
	s.t.Helper()
	waitFor(s.t, 60*time.Second, func() bool {
		var st struct {
			Central string `json:"central"`
		}
		json.Unmarshal([]byte(s.ctl("--json", "status")), &st)
		return strings.HasPrefix(st.Central, "connected")
	}, "the daemon linked to the centre")
}

type requestsJSON struct {
	Forecast localapi.Forecast       `json:"forecast"`
	Requests []localapi.CentreReport `json:"requests"`
}

// The request for blanks against the reference centre as its own process:
// made with printstationctl while the centre is down, it waits; the centre
// comes back answering garbage after it has taken the request (the station
// cannot tell, and sends it again with the same key); once it answers
// properly the station shows the centre's reference, and the centre holds
// exactly one request, however often it arrived. The day's announcement
// goes the same way and arrives with the ledger's figures.
func TestRequestForBlanksThroughTheCentre(t *testing.T) {
	s := newE2E(t, e2eOpts{jobs: 0, batch: 1, printers: 1, noChip: true})
	s.startDaemon()
	s.waitLinked()
	s.stopCentral() // the link goes down
	s.stock(40)     // receives 90, loads 40 into p1

	var rep localapi.CentreReport
	if err := json.Unmarshal([]byte(s.ctl("--json", "stock", "request", "--quantity", "500", "--note", "stok menipis", "--id", "cli-test-request-1")), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.State != "waiting" || rep.Request == nil || rep.Request.Quantity != 500 || rep.Request.Forecast.Available != 90 || rep.Request.Forecast.DaysLeft != -1 {
		t.Fatalf("the request while the centre is down: %+v", rep)
	}
	if out := s.ctl("stock", "requests"); !strings.Contains(out, "waiting for the centre") {
		t.Fatalf("stock requests while the centre is down:\n%s", out)
	}
	var ann struct {
		Report localapi.CentreReport `json:"report"`
		Fresh  bool                  `json:"fresh"`
	}
	if err := json.Unmarshal([]byte(s.ctl("--json", "stock", "announce")), &ann); err != nil || !ann.Fresh || ann.Report.State != "waiting" {
		t.Fatalf("announce while the centre is down: %v %+v", err, ann)
	}
	// The same request again (the command run twice with its id) is the
	// same request.
	s.ctl("stock", "request", "--quantity", "500", "--id", "cli-test-request-1")

	s.startCentral(`{"garbage_rate":1}`)
	admin := newCentreAdmin(t, s)
	defer func() {
		if t.Failed() {
			t.Logf("daemon log tail:\n%s", tail(s.daemon.stderr.String(), 6000))
		}
	}()
	waitFor(t, 90*time.Second, func() bool {
		// Asking again is the same request, and sends it now (past the
		// back-off the outage left).
		s.ctl("stock", "request", "--quantity", "500", "--id", "cli-test-request-1")
		rs := admin.blankRequests(s.station)
		return len(rs) == 1 && rs[0].Posts >= 2
	}, "the centre taking the request and the station sending it again after a garbage answer")
	if out := s.ctl("stock", "requests"); !strings.Contains(out, "waiting for the centre") {
		t.Fatalf("acknowledged on a garbage answer:\n%s", out)
	}
	admin.do("POST", "/admin/faults", `{}`, nil)
	var got requestsJSON
	waitFor(t, 90*time.Second, func() bool {
		s.ctl("stock", "request", "--quantity", "500", "--id", "cli-test-request-1")
		got = requestsJSON{}
		json.Unmarshal([]byte(s.ctl("--json", "stock", "requests")), &got)
		return len(got.Requests) == 1 && got.Requests[0].State == "acknowledged"
	}, "the request acknowledged once the centre answers")
	rs := admin.blankRequests(s.station)
	if len(rs) != 1 || rs[0].Ref != got.Requests[0].Ref || rs[0].Quantity != 500 || rs[0].ID != "cli-test-request-1" {
		t.Fatalf("the centre holds %+v; the station shows reference %q", rs, got.Requests[0].Ref)
	}
	t.Logf("one request at the centre, %s, posted %d times", rs[0].Ref, rs[0].Posts)
	var sent struct {
		Forecast localapi.Forecast `json:"forecast"`
		Note     string            `json:"note"`
		Actor    string            `json:"actor"`
	}
	if err := json.Unmarshal(rs[0].Request, &sent); err != nil || sent.Note != "stok menipis" || sent.Actor != "tester" || sent.Forecast.Available != 90 || sent.Forecast.WindowDays != 7 {
		t.Errorf("the centre's copy of the request: %v %+v", err, sent)
	}

	// The announcement arrived with the ledger's figures.
	waitFor(t, 60*time.Second, func() bool {
		// Announcing again with the same figures is the same announcement,
		// and says how it stands.
		return strings.Contains(s.ctl("stock", "announce"), "acknowledged by the centre, reference LS-")
	}, "the announcement acknowledged")
	var reports []central.StockReportRecord
	admin.do("GET", "/admin/stock-reports?station="+s.station, "", &reports)
	var announced int
	for _, r := range reports {
		var a struct {
			Announcement bool `json:"announcement"`
			Period       struct {
				Received int64 `json:"received"`
				Storage  struct {
					Loaded  int64 `json:"loaded_into_printers"`
					Closing int64 `json:"closing"`
				} `json:"storage"`
				Closing struct {
					Available int64 `json:"available"`
				} `json:"closing"`
			} `json:"period"`
		}
		if json.Unmarshal(r.Report, &a) == nil && a.Announcement {
			announced++
			if a.Period.Received != 90 || a.Period.Storage.Loaded != 40 || a.Period.Storage.Closing != 50 || a.Period.Closing.Available != 90 {
				t.Errorf("the announcement %s at the centre: %+v", r.Ref, a.Period)
			}
		}
	}
	if announced != 1 {
		t.Errorf("the centre holds %d announcements, want 1:\n%s", announced, fmt.Sprint(reports))
	}
}
