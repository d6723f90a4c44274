package web

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"printstation/config"
	"printstation/station"
	"printstation/storage"
)

// Self-signed certificate files the station makes in its storage
// directory when web.tls_self_signed is set.
const (
	SelfCertFile = "web-cert.pem"
	SelfKeyFile  = "web-key.pem"
)

// Fingerprint is a certificate's SHA-256 as colon-separated hex, as
// browsers show it.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	hex := make([]string, len(sum))
	for i, x := range sum {
		hex[i] = fmt.Sprintf("%02X", x)
	}
	return strings.Join(hex, ":")
}

// LoadOrMakeCert loads dir's self-signed certificate, or makes one (ECDSA
// P-256, ten years) naming hosts, and writes it with its key (mode 0600).
// Staff check its fingerprint (printstationctl tls fingerprint) the first
// time their browser warns about it.
func LoadOrMakeCert(dir string, hosts []string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, SelfCertFile), filepath.Join(dir, SelfKeyFile)
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil {
		return c, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("web certificate %s: %w (remove both files to make a new one)", certPath, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "printstation print-room page"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tpl.IPAddresses = append(tpl.IPAddresses, ip)
		} else if h != "" {
			tpl.DNSNames = append(tpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate key: %w", err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return tls.Certificate{}, fmt.Errorf("web certificate: %w", err)
	}
	return tls.LoadX509KeyPair(certPath, keyPath)
}

// certHosts are the names a certificate is for: the page answers to them.
func certHosts(c tls.Certificate) []string {
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	out := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		out = append(out, ip.String())
	}
	return out
}

// ForDaemon serves the print-room page of a running daemon as its config
// says (loopback, or a LAN address over TLS) until ctx ends.
func ForDaemon(ctx context.Context, d *station.Daemon, cfg *config.Config, addr string, log zerolog.Logger) error {
	opts := Options{Station: cfg.StationID, Log: log, Accounts: d.Accounts(), Idle: time.Duration(cfg.Web.IdleMinutes) * time.Minute, Language: cfg.Web.Language,
		Office: cfg.Web.Office, WitnessKey: cfg.Central.WitnessKey}
	// The auditor's screens read the database through a handle of their
	// own opened read-only: SQLite refuses any write through it.
	if ro, err := storage.OpenReadOnly(ctx, filepath.Join(cfg.StorageDir, "station.db")); err != nil {
		log.Error().Err(err).Msg("the auditor's screens cannot open the station database read-only; they will say so")
	} else {
		defer ro.Close()
		opts.AuditDB = ro
	}
	var tc *tls.Config
	if cfg.Web.TLS() {
		host, _, _ := net.SplitHostPort(addr)
		var cert tls.Certificate
		var err error
		if cfg.Web.TLSSelfSigned {
			hn, _ := os.Hostname()
			cert, err = LoadOrMakeCert(cfg.StorageDir, []string{host, hn, "localhost", "127.0.0.1"})
		} else {
			cert, err = tls.LoadX509KeyPair(cfg.Web.TLSCert, cfg.Web.TLSKey)
		}
		if err != nil {
			return fmt.Errorf("web page TLS: %w", err)
		}
		opts.Hosts = append(certHosts(cert), host)
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		log.Info().Str("url", "https://"+addr+"/").Str("sha256", Fingerprint(cert.Certificate[0])).Msg("print-room web page over TLS")
	} else {
		log.Info().Str("url", "http://"+addr+"/").Msg("print-room web page")
	}
	return Listen(ctx, addr, New(d.Engine(), opts), tc)
}
