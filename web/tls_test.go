package web

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// The station's own certificate is made once and kept; the page serves
// over it, and a browser that pins its fingerprint connects.
func TestSelfSignedCertServesTheSamePage(t *testing.T) {
	dir := t.TempDir()
	c1, err := LoadOrMakeCert(dir, []string{"127.0.0.1", "printroom.local"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := LoadOrMakeCert(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(c1.Certificate[0])
	if Fingerprint(c2.Certificate[0]) != fp {
		t.Fatal("a restart made a new certificate: staff would have to check a new fingerprint")
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := New(newFake(), Options{Log: zerolog.Nop(), Hosts: certHosts(c1)})
	go Listen(ctx, addr, h, &tls.Config{Certificates: []tls.Certificate{c1}})
	pinned := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // the check is the pinned fingerprint below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if Fingerprint(raw[0]) != fp {
				t.Error("served a different certificate")
			}
			return nil
		},
	}}}
	var resp *http.Response
	for i := 0; i < 50; i++ {
		if resp, err = pinned.Get("https://" + addr + "/"); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("page over TLS: %d", resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && !c.Secure {
			t.Error("the session cookie over TLS is not Secure")
		}
	}
}

// With TLS the page answers to the certificate's names; still not to any
// other (DNS rebinding).
func TestHostsFromTheCertificate(t *testing.T) {
	h := New(newFake(), Options{Log: zerolog.Nop(), Hosts: []string{"printroom.local", "192.168.1.20"}})
	for host, want := range map[string]int{"printroom.local:8443": 200, "192.168.1.20:8443": 200, "evil.example:8443": http.StatusMisdirectedRequest} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("Host %s: %d, want %d", host, rec.Code, want)
		}
	}
}
