package config

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"

	"printstation/printer"
)

var stationIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

func (c *Config) validate(idx lineIndex) Problems {
	var ps Problems
	bad := func(key, format string, args ...any) {
		ps = append(ps, Problem{File: c.File, Line: idx.at(key), Msg: fmt.Sprintf(format, args...)})
	}

	switch {
	case c.StationID == "":
		bad("station_id", `station_id is missing: set it to the id the central server gave this station, e.g. station_id = "ST-3201-01"`)
	case !stationIDRe.MatchString(c.StationID):
		bad("station_id", "station_id %q: expected letters, digits, '.', '_' or '-' (at most 64)", c.StationID)
	}
	if c.StorageDir == "" {
		bad("storage_dir", "storage_dir is empty: expected a directory for the station database")
	}

	if c.Central.URL != "" {
		u, err := url.Parse(c.Central.URL)
		switch {
		case err != nil || u.Host == "":
			bad("central.url", "central.url %q is not a URL: expected https://HOST[:PORT]", c.Central.URL)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname())):
			bad("central.url", "central.url %q: expected https:// (plain http is allowed only to a loopback address, for simulators)", c.Central.URL)
		}
		if (c.Central.ClientCert == "") != (c.Central.ClientKey == "") {
			bad("central", "central: client_cert and client_key go together: give both (the station's certificate and its private key) or neither")
		}
	}
	if len(c.Central.IssuerKeys) == 0 {
		bad("central", "no [[central.issuer_key]]: pin at least one public key of the issuing authority (id and file), or no job can be accepted")
	}
	for _, f := range []struct{ key, path string }{
		{"central.client_cert", c.Central.ClientCert},
		{"central.client_key", c.Central.ClientKey},
		{"central.ca_file", c.Central.CAFile},
	} {
		if f.path != "" {
			if err := readable(f.path); err != nil {
				bad(f.key, "%s: %v", f.key, err)
			}
		}
	}
	kids := map[string]bool{}
	for i, k := range c.Central.IssuerKeys {
		key := "central.issuer_key." + strconv.Itoa(i)
		if k.ID == "" {
			bad(key+".id", "issuer key #%d has no id: expected the key id (kid) the authority signs with", i+1)
		} else if kids[k.ID] {
			bad(key+".id", "issuer key id %q is given twice", k.ID)
		}
		kids[k.ID] = true
		if k.File == "" {
			bad(key+".file", "issuer key %q has no file: expected the path of its Ed25519 public key (PEM or base64)", k.ID)
		} else if _, err := ReadIssuerKey(k.File); err != nil {
			bad(key+".file", "issuer key %q: %v", k.ID, err)
		}
	}
	if c.Central.PollSeconds < 1 || c.Central.PollSeconds > 300 {
		bad("central.poll_seconds", "central.poll_seconds = %d: expected 1 to 300", c.Central.PollSeconds)
	}

	if c.Web.Listen != "" { // "" switches the page off
		host, port, err := net.SplitHostPort(c.Web.Listen)
		switch {
		case err != nil || port == "":
			bad("web.listen", "web.listen %q: expected HOST:PORT, e.g. \"127.0.0.1:8080\", or \"\" for no page", c.Web.Listen)
		case !isLoopbackHost(host) && !c.Web.TLS():
			bad("web.listen", "web.listen %q: a LAN address needs TLS, or sign-ins would cross the network in clear: set web.tls_cert and web.tls_key, or web.tls_self_signed = true; or listen on 127.0.0.1", c.Web.Listen)
		}
	}
	if (c.Web.TLSCert == "") != (c.Web.TLSKey == "") {
		bad("web.tls_cert", "web.tls_cert and web.tls_key go together: give both PEM files, or neither")
	}
	if c.Web.TLSCert != "" && c.Web.TLSSelfSigned {
		bad("web.tls_self_signed", "web.tls_self_signed and web.tls_cert exclude each other: choose one")
	}
	if c.Web.IdleMinutes < 0 || c.Web.IdleMinutes > 24*60 {
		bad("web.idle_minutes", "web.idle_minutes = %d: expected 0 (15) to 1440", c.Web.IdleMinutes)
	}

	if len(c.Web.Office) > 200 || strings.ContainsAny(c.Web.Office, "\n\r") {
		bad("web.office", "web.office: expected the office's name on one line of at most 200 characters")
	}
	if c.Web.Language != "id" && c.Web.Language != "en" {
		bad("web.language", "web.language %q: expected \"id\" (Bahasa Indonesia) or \"en\" (English)", c.Web.Language)
	}

	if c.Metrics.Listen != "" { // "" switches metrics off
		if _, port, err := net.SplitHostPort(c.Metrics.Listen); err != nil || port == "" {
			bad("metrics.listen", "metrics.listen %q: expected HOST:PORT, e.g. \"127.0.0.1:9464\" (loopback) or the station's address for a Prometheus server, or \"\" for none", c.Metrics.Listen)
		}
	}

	switch c.Log.Level {
	case "trace", "debug", "info", "warn", "error":
	default:
		bad("log.level", "log.level %q: expected one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "json", "console":
	default:
		bad("log.format", "log.format %q: expected auto, json or console", c.Log.Format)
	}

	if c.Queue.PrefetchJobs < 1 || c.Queue.PrefetchJobs > 100000 {
		bad("queue.prefetch_jobs", "queue.prefetch_jobs = %d: expected 1 to 100000", c.Queue.PrefetchJobs)
	}
	if c.Queue.PrefetchMB < 1 || c.Queue.PrefetchMB > 100000 {
		bad("queue.prefetch_mb", "queue.prefetch_mb = %d: expected 1 to 100000", c.Queue.PrefetchMB)
	}
	if c.Central.MaxAnswerMB < 1 || c.Central.MaxAnswerMB > 256 {
		bad("central.max_answer_mb", "central.max_answer_mb = %d: expected 1 to 256 (MB in one answer from the centre; job pages are asked no larger)", c.Central.MaxAnswerMB)
	}
	if c.Queue.RetentionHours < 0 {
		bad("queue.retention_hours", "queue.retention_hours = %d: expected 0 or more", c.Queue.RetentionHours)
	}
	for _, f := range []struct{ key, path string }{{"keys.data_key", c.Keys.DataKey}, {"keys.signing_key", c.Keys.SigningKey}} {
		if f.path != "" {
			if err := keyFileOK(f.path); err != nil {
				bad(f.key, "%s: %v", f.key, err)
			}
		}
	}

	e := c.Engine
	if e.MaxAttempts < 1 || e.MaxAttempts > 10 {
		bad("engine.max_attempts", "engine.max_attempts = %d: expected 1 to 10 blanks per job before a person decides", e.MaxAttempts)
	}
	if e.CheckpointEvery < 1 {
		bad("engine.checkpoint_every", "engine.checkpoint_every = %d: expected 1 or more ledger events", e.CheckpointEvery)
	}
	if e.CheckpointMinutes < 1 || e.CheckpointMinutes > 1440 {
		bad("engine.checkpoint_minutes", "engine.checkpoint_minutes = %d: expected 1 to 1440 minutes between checkpoints while events wait unsigned", e.CheckpointMinutes)
	}
	if e.DeskWaitSeconds < 1 || e.DeskWaitSeconds > 3600 {
		bad("engine.desk_wait_seconds", "engine.desk_wait_seconds = %d: expected 1 to 3600 seconds for the operator at the desk reader", e.DeskWaitSeconds)
	}
	if e.MaxStock < 1 || e.MaxStock > 10_000_000 {
		bad("engine.max_stock", "engine.max_stock = %d: expected 1 to 10000000 blanks held at this station", e.MaxStock)
	}
	if e.LowStock > e.MaxStock {
		bad("engine.low_stock", "engine.low_stock = %d is above engine.max_stock = %d", e.LowStock, e.MaxStock)
	}
	if e.ShutdownGraceSeconds < 1 || e.ShutdownGraceSeconds > 600 {
		bad("engine.shutdown_grace_seconds", "engine.shutdown_grace_seconds = %d: expected 1 to 600", e.ShutdownGraceSeconds)
	}
	if e.ChipTimeoutSeconds < 1 || e.ChipTimeoutSeconds > 600 {
		bad("engine.chip_timeout_seconds", "engine.chip_timeout_seconds = %d: expected 1 to 600", e.ChipTimeoutSeconds)
	}
	if e.BreakerFailures < 1 || e.BreakerFailures > 20 {
		bad("engine.breaker_failures", "engine.breaker_failures = %d: expected 1 to 20 failed blanks in a row before a printer stops", e.BreakerFailures)
	}
	switch {
	case e.CleanWarnCards < 0 || e.CleanStopCards < 0 || e.CleanStopCards > 1_000_000:
		bad("engine.clean_stop_cards", "engine.clean_warn_cards = %d, clean_stop_cards = %d: expected cards since the last cleaning, 1 to 1000000 (0 for both switches the cleaning policy off)", e.CleanWarnCards, e.CleanStopCards)
	case e.CleanStopCards == 0 && e.CleanWarnCards != 0:
		bad("engine.clean_warn_cards", "engine.clean_warn_cards = %d with clean_stop_cards = 0: set clean_stop_cards too (the card count at which the printer stops for a cleaning), or 0 for both", e.CleanWarnCards)
	case e.CleanStopCards > 0 && (e.CleanWarnCards < 1 || e.CleanWarnCards >= e.CleanStopCards):
		bad("engine.clean_warn_cards", "engine.clean_warn_cards = %d: expected 1 to %d, below clean_stop_cards = %d, so the warning comes before the stop", e.CleanWarnCards, e.CleanStopCards-1, e.CleanStopCards)
	}
	if e.LowStock < 0 {
		bad("engine.low_stock", "engine.low_stock = %d: expected 0 or more", e.LowStock)
	}

	names := map[string]int{}
	addrs := map[string]string{}
	for i, p := range c.Printers {
		key := "printer." + strconv.Itoa(i)
		label := fmt.Sprintf("printer #%d", i+1)
		if p.Name != "" {
			label = fmt.Sprintf("printer %q", p.Name)
		}
		switch {
		case p.Name == "":
			bad(key, "%s has no name: expected name = \"p1\" or similar, used in messages and the ledger", label)
		case !stationIDRe.MatchString(p.Name):
			bad(key+".name", "%s: name expected letters, digits, '.', '_' or '-'", label)
		default:
			if first, dup := names[p.Name]; dup {
				bad(key+".name", "printer name %q is used twice (also printer #%d): each printer needs its own name", p.Name, first+1)
			}
			names[p.Name] = i
		}
		switch {
		case p.Transport == "ipp" && p.Driver != "ipp":
			bad(key+".driver", "%s: driver %q on transport \"ipp\": a print queue is driven by driver = \"ipp\" (or leave driver out)", label, p.Driver)
		case p.Transport != "ipp" && p.Driver == "ipp":
			bad(key+".driver", "%s: driver \"ipp\" needs transport = \"ipp\" and uri = \"ipp://localhost:631/printers/NAME\"", label)
		case p.Driver != "evolis" && p.Driver != "ipp":
			bad(key+".driver", "%s: driver %q: expected \"evolis\" or \"ipp\"", label, p.Driver)
		}
		switch p.Transport {
		case "usb":
			if p.VendorID <= 0 || p.VendorID > 0xFFFF {
				bad(key+".vendor_id", "%s: usb transport needs vendor_id (e.g. 0x0F49 for Evolis)", label)
			}
			if p.ProductID < 0 || p.ProductID > 0xFFFF {
				bad(key+".product_id", "%s: product_id 0x%X: expected 0x0000 to 0xFFFF", label, p.ProductID)
			}
			if p.Address != "" {
				bad(key+".address", "%s: address is for tcp printers; a usb printer is told apart by vendor_id, product_id and serial", label)
			}
		case "tcp":
			host, port, err := net.SplitHostPort(p.Address)
			if err != nil || host == "" || port == "" {
				bad(key+".address", "%s: address %q: expected HOST:PORT of the printer's raw TCP port, e.g. \"192.0.2.10:9100\"", label, p.Address)
			} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
				bad(key+".address", "%s: address %q: port expected 1 to 65535", label, p.Address)
			}
		case "ipp":
			if a, err := printer.ParseAddr(p.URI); p.URI == "" || err != nil || (a.Scheme != "ipp" && a.Scheme != "ipps") {
				bad(key+".uri", "%s: uri %q: expected the print queue's address, e.g. uri = \"ipp://localhost:631/printers/NAME\" (lpstat -v lists the queues)", label, p.URI)
			}
			if p.Address != "" || p.VendorID != 0 || p.ProductID != 0 || p.Serial != "" {
				bad(key+".transport", "%s: address, vendor_id, product_id and serial are for usb and tcp printers; an ipp printer is named by its uri", label)
			}
			if p.Encoder != "desk" {
				bad(key+".encoder", "%s: a print queue cannot hold a card at an encoder: set encoder = \"desk\" and encoder_reader to the desk reader's name", label)
			}
		case "":
			bad(key, "%s has no transport: expected transport = \"usb\", \"tcp\" or \"ipp\"", label)
		default:
			bad(key+".transport", "%s: transport %q: expected \"usb\", \"tcp\" or \"ipp\"", label, p.Transport)
		}
		switch p.Encoder {
		case "inline":
		case "desk":
			if p.Transport != "ipp" {
				bad(key+".encoder", "%s: encoder = \"desk\" is for printers on transport = \"ipp\"; an Evolis printer writes the chip at its own encoder (encoder = \"inline\")", label)
			}
			if p.EncoderReader == "" {
				bad(key+".encoder_reader", "%s: encoder = \"desk\" needs encoder_reader, the desk reader's PC/SC name or a pattern (pcsc_scan lists them), e.g. \"ACS ACR1252 1S CL Reader PICC*\"", label)
			}
		default:
			bad(key+".encoder", "%s: encoder %q: expected \"inline\" (the printer's own) or \"desk\" (a reader on the desk)", label, p.Encoder)
		}
		if p.Transport == "usb" || p.Transport == "tcp" || p.Transport == "ipp" {
			a := p.Addr()
			if p.Transport == "usb" && p.Serial == "" {
				a = fmt.Sprintf("usb:%04x:%04x", p.VendorID, p.ProductID)
			}
			if other, dup := addrs[a]; dup {
				bad(key+".transport", "%s is on the same transport as printer %q (%s): two printers cannot share one; for USB give each its serial", label, other, a)
			}
			addrs[a] = p.Name
		}
		if p.EncoderReader != "" {
			if _, err := path.Match(p.EncoderReader, ""); err != nil {
				bad(key+".encoder_reader", "%s: encoder_reader %q is not a valid pattern: %v", label, p.EncoderReader, err)
			}
		}
		if p.FeederCapacity < 1 || p.FeederCapacity > 1000 {
			bad(key+".feeder_capacity", "%s: feeder_capacity = %d: expected 1 to 1000 cards", label, p.FeederCapacity)
		}
		switch p.Ribbon {
		case "ymcko", "ymckok", "kbr", "k", "ko":
		default:
			bad(key+".ribbon", "%s: ribbon %q: expected ymcko, ymckok, ko or k", label, p.Ribbon)
		}
	}
	return ps
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func readable(p string) error {
	f, err := os.Open(p)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("file %s does not exist", p)
		}
		return fmt.Errorf("cannot read %s: %v (check the file's owner and mode)", p, err)
	}
	return f.Close()
}

// keyFileOK accepts a missing key file (the daemon creates it on first
// start) but not one others can read.
func keyFileOK(p string) error {
	st, err := os.Stat(p)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", p, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by group or others (mode %04o): run chmod 600 %s", p, st.Mode().Perm(), p)
	}
	return readable(p)
}

// ReadIssuerKey reads an Ed25519 public key from a PEM (PKIX) file or a
// file holding the 32 raw bytes in base64.
func ReadIssuerKey(p string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, fmt.Errorf("file %s does not exist", p)
		}
		return nil, fmt.Errorf("cannot read %s: %v", p, err)
	}
	if blk, _ := pem.Decode(data); blk != nil {
		k, err := x509.ParsePKIXPublicKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: not a public key: %v", p, err)
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%s: expected an Ed25519 public key, found %T", p, k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("%s: expected an Ed25519 public key in PEM or as 32 bytes in base64", p)
	}
	return ed25519.PublicKey(raw), nil
}
