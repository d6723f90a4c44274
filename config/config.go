// Package config reads the station's TOML file: its schema, defaults and
// validation. Every problem names file:line and says what is expected, and
// all problems are reported at once so a technician fixes the file in one go.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the packaged unit looks for the file.
const DefaultPath = "/etc/printstation/station.toml"

// Config is the whole station configuration.
type Config struct {
	StationID  string    `toml:"station_id"`
	StorageDir string    `toml:"storage_dir"`
	RuntimeDir string    `toml:"runtime_dir"`
	Central    Central   `toml:"central"`
	Web        Web       `toml:"web"`
	Metrics    Metrics   `toml:"metrics"`
	Log        Log       `toml:"log"`
	Queue      Queue     `toml:"queue"`
	Keys       Keys      `toml:"keys"`
	Engine     Engine    `toml:"engine"`
	Printers   []Printer `toml:"printer"`

	// File is the path the config was read from (for messages).
	File string `toml:"-"`
}

// Central is the link to the central issuing server.
type Central struct {
	URL        string      `toml:"url"`
	ClientCert string      `toml:"client_cert"`
	ClientKey  string      `toml:"client_key"`
	CAFile     string      `toml:"ca_file"`
	IssuerKeys []IssuerKey `toml:"issuer_key"`
	// WitnessKey is the centre's note verifier key (vkey text) that
	// cosigns ledger checkpoints; empty means cosignatures are stored
	// unverified.
	WitnessKey  string `toml:"witness_key"`
	PollSeconds int    `toml:"poll_seconds"`
	// MaxAnswerMB bounds one answer from the centre; the station asks for
	// job pages no larger.
	MaxAnswerMB int `toml:"max_answer_mb"`
}

// IssuerKey is one pinned public key of the issuing authority. Several
// may be pinned at once so the authority can rotate keys by key id.
type IssuerKey struct {
	ID   string `toml:"id"`
	File string `toml:"file"`
}

// Web is the print-room page. It listens on loopback unless TLS is set:
// then it may listen on a LAN address for staff at other desks.
type Web struct {
	Listen string `toml:"listen"`
	// TLSCert and TLSKey are PEM files; or TLSSelfSigned makes the
	// station its own certificate (in storage_dir, kept across restarts),
	// whose fingerprint `printstationctl tls fingerprint` prints.
	TLSCert       string `toml:"tls_cert"`
	TLSKey        string `toml:"tls_key"`
	TLSSelfSigned bool   `toml:"tls_self_signed"`
	// IdleMinutes ends a signed-in session after this long without a
	// person's request (0: 15).
	IdleMinutes int `toml:"idle_minutes"`
	// Language is the page's language when neither the signed-in person
	// nor the browser chose one: "id" (Bahasa Indonesia) or "en".
	Language string `toml:"language"`
	// Office names the office and place of the station ("Dinas
	// Kependudukan dan Pencatatan Sipil Kabupaten Sleman"), written as
	// the place on the printed destruction record; empty: the station id.
	Office string `toml:"office"`
}

// TLS says whether the page is served over TLS.
func (w Web) TLS() bool { return w.TLSSelfSigned || w.TLSCert != "" }

// Metrics is the Prometheus endpoint a fleet's monitoring scrapes. It has
// its own address so that it can be opened to the monitoring server while
// the print-room page stays on loopback; it carries no personal data.
type Metrics struct {
	Listen string `toml:"listen"` // HOST:PORT; "" switches it off
}

// Log sets the daemon's logging.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"` // auto, json, console
}

// Queue bounds the prefetch window and the retention of personal data.
type Queue struct {
	PrefetchJobs int `toml:"prefetch_jobs"`
	PrefetchMB   int `toml:"prefetch_mb"`
	// RetentionHours keeps a finished job's personal data this long after
	// the centre acknowledged its outcome; 0 purges at once.
	RetentionHours int `toml:"retention_hours"`
}

// Keys names the station's secrets. Empty paths use the systemd
// credentials directory when the service has one, else files in the
// storage directory created on first start with mode 0600.
type Keys struct {
	DataKey    string `toml:"data_key"`
	SigningKey string `toml:"signing_key"`
}

// Engine tunes the card flow.
type Engine struct {
	MaxAttempts          int `toml:"max_attempts"`
	CheckpointEvery      int `toml:"checkpoint_every"`
	ShutdownGraceSeconds int `toml:"shutdown_grace_seconds"`
	LowStock             int `toml:"low_stock"`
	ChipTimeoutSeconds   int `toml:"chip_timeout_seconds"`
	// BreakerFailures is how many blanks in a row may fail on one printer
	// (at the chip or the print) before the printer is stopped for a
	// person: a broken encoder or a foreign card at it must not empty the
	// feeder. A new blank that reports the previous blank's chip UID stops
	// the printer at once.
	BreakerFailures int `toml:"breaker_failures"`
	// ConfirmReader is the PC/SC reader pattern of the desk reader a person
	// holds an uncertain card to when confirming it after it left the
	// printer. Empty: the printer's own encoder is used.
	ConfirmReader string `toml:"confirm_reader"`
	// DeskWaitSeconds bounds each wait for the operator in the desk
	// encoder flow (a blank on the reader, the card taken to the printer,
	// the printed card tapped back).
	DeskWaitSeconds int `toml:"desk_wait_seconds"`
	// MaxStock is the most blanks this station may hold (storage and
	// printers); larger quantities are refused as typing mistakes.
	MaxStock int `toml:"max_stock"`
	// CheckpointMinutes signs a checkpoint when events waited this long
	// unsigned, so the tail the centre has not witnessed stays short.
	CheckpointMinutes int `toml:"checkpoint_minutes"`
	// CleanWarnCards and CleanStopCards are the cleaning policy, in cards
	// fed since the last cleaning the station recorded: at CleanWarnCards
	// the technician's page and the journal warn; at CleanStopCards the
	// engine feeds no blank until a cleaning is recorded (a dirty head
	// spoils blanks and, for some makers, the warranty). 0 for both
	// switches the policy off.
	CleanWarnCards int `toml:"clean_warn_cards"`
	CleanStopCards int `toml:"clean_stop_cards"`
}

// Printer is one card printer and the encoder inside it.
type Printer struct {
	Name      string `toml:"name"`
	Driver    string `toml:"driver"`
	Transport string `toml:"transport"` // usb, tcp or ipp
	VendorID  int    `toml:"vendor_id"`
	ProductID int    `toml:"product_id"`
	Serial    string `toml:"serial"`
	Address   string `toml:"address"` // host:port for tcp
	URI       string `toml:"uri"`     // ipp://HOST[:PORT]/printers/NAME for ipp
	// Encoder is where the chip is written: "inline" (default), the
	// printer's own contactless station, or "desk", a PC/SC reader on the
	// desk that the operator places each card on, before and after the
	// printer prints its face.
	Encoder string `toml:"encoder"`
	// EncoderReader is the PC/SC reader name (a path.Match pattern): the
	// printer's encoder, or the desk reader for encoder = "desk".
	EncoderReader  string `toml:"encoder_reader"`
	FeederCapacity int    `toml:"feeder_capacity"`
	Ribbon         string `toml:"ribbon"`
}

// Addr is the printer's address in the form printer.Open takes:
// usb:VID:PID[:SERIAL], tcp://HOST:PORT or ipp://HOST[:PORT]/PATH.
func (p Printer) Addr() string {
	if p.Transport == "ipp" {
		return p.URI
	}
	if p.Transport == "tcp" {
		return "tcp://" + p.Address
	}
	a := fmt.Sprintf("usb:%04x:%04x", p.VendorID, p.ProductID)
	if p.Serial != "" {
		a += ":" + p.Serial
	}
	return a
}

// Defaults returns the configuration every file starts from.
func Defaults() Config {
	return Config{
		StorageDir: "/var/lib/printstation",
		RuntimeDir: "/run/printstation",
		Web:        Web{Listen: "127.0.0.1:8080", Language: "id"},
		Metrics:    Metrics{Listen: "127.0.0.1:9464"},
		Log:        Log{Level: "info", Format: "auto"},
		Queue:      Queue{PrefetchJobs: 200, PrefetchMB: 64},
		Central:    Central{PollSeconds: 30, MaxAnswerMB: 16},
		Engine: Engine{
			MaxAttempts:          3,
			CheckpointEvery:      100,
			ShutdownGraceSeconds: 60,
			LowStock:             100,
			ChipTimeoutSeconds:   30,
			BreakerFailures:      3,
			DeskWaitSeconds:      300,
			MaxStock:             100000,
			CheckpointMinutes:    5,
			CleanWarnCards:       1000,
			CleanStopCards:       2000,
		},
	}
}

func printerDefaults(p *Printer) {
	if p.Driver == "" {
		p.Driver = "evolis"
		if p.Transport == "ipp" {
			p.Driver = "ipp"
		}
	}
	if p.Encoder == "" {
		p.Encoder = "inline"
	}
	if p.FeederCapacity == 0 {
		p.FeederCapacity = 100
	}
	if p.Ribbon == "" {
		p.Ribbon = "ymcko"
	}
}

// Problem is one thing wrong with the file.
type Problem struct {
	File string
	Line int // 0 when the problem is not tied to a line
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// Problems is the error Load returns: every problem found, in line order.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// MaxFileBytes bounds the config file: a station's file is a few KB, and
// a wrong path (a device, a log) must not be read without end.
const MaxFileBytes = 1 << 20

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w (give the station's TOML file with --config; the packaged default is %s)", err, DefaultPath)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, Problems{{File: path, Msg: fmt.Sprintf("the file is larger than %d bytes; a station config is a few KB: check that this is the right file", MaxFileBytes)}}
	}
	return Parse(path, data)
}

// Parse decodes and validates data read from file (file is used in
// messages and to resolve relative paths).
func Parse(file string, data []byte) (*Config, error) {
	cfg := Defaults()
	cfg.File = file
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&cfg)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			msg := pe.Message
			if pe.Usage != "" {
				msg += " (" + strings.TrimSpace(pe.Usage) + ")"
			}
			return nil, Problems{{File: file, Line: pe.Position.Line, Msg: tidyTOML(msg)}}
		}
		if m := typeErrRe.FindStringSubmatch(err.Error()); m != nil {
			n, _ := strconv.Atoi(m[1])
			return nil, Problems{{File: file, Line: n, Msg: fmt.Sprintf("%s: %s", m[2], strings.NewReplacer("incompatible types: TOML value has type", "the file gives a", "; destination has type", ", expected").Replace(m[3]))}}
		}
		return nil, Problems{{File: file, Msg: tidyTOML(err.Error())}}
	}
	idx := indexLines(data)
	var ps Problems
	for _, k := range md.Undecoded() {
		ps = append(ps, Problem{File: file, Line: idx.line(k), Msg: fmt.Sprintf("unknown key %q: %s", k.String(), knownKeysHint(k))})
	}
	for i := range cfg.Printers {
		printerDefaults(&cfg.Printers[i])
	}
	cfg.resolvePaths(filepath.Dir(file))
	ps = append(ps, cfg.validate(idx)...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
	if len(ps) > 0 {
		return nil, ps
	}
	return &cfg, nil
}

// typeErrRe picks apart the library's type-mismatch error, which carries its
// line only in the text.
var typeErrRe = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

func tidyTOML(s string) string {
	return strings.TrimPrefix(s, "toml: ")
}

// resolvePaths makes relative file paths relative to the config file, so a
// config in a folder with its keys works wherever it is started from.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	abs(&c.StorageDir)
	abs(&c.RuntimeDir)
	abs(&c.Central.ClientCert)
	abs(&c.Central.ClientKey)
	abs(&c.Central.CAFile)
	abs(&c.Keys.DataKey)
	abs(&c.Keys.SigningKey)
	for i := range c.Central.IssuerKeys {
		abs(&c.Central.IssuerKeys[i].File)
	}
}

// Summary is the one line check-config prints for a good file.
func (c *Config) Summary() string {
	central := c.Central.URL
	if central == "" {
		central = "no central server"
	}
	return fmt.Sprintf("%s: station %s, %d printer(s), %d issuer key(s), %s, storage %s, web %s",
		c.File, c.StationID, len(c.Printers), len(c.Central.IssuerKeys), central, c.StorageDir, c.Web.Listen)
}
