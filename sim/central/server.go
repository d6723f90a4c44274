// Package central is a reference central server for tests and demos: it
// issues signed synthetic print jobs for stations, serves templates, records
// outcomes idempotently, witnesses ledger checkpoints, and can be made slow,
// flaky or wrong on purpose through fault switches.
package central

import (
	"bufio"
	"compress/gzip"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/mod/sumdb/note"

	"printstation/card"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/sim/central/imgenc"
)

// Faults are the switches that make the centre misbehave. Rates are
// probabilities per request (transport faults) or per issued job (job faults).
type Faults struct {
	LatencyMS      int     `json:"latency_ms"`      // added before every answer
	BandwidthBps   int     `json:"bandwidth_bps"`   // answer bytes per second; 0: unlimited
	ErrorRate      float64 `json:"error_rate"`      // 503 answers
	DropRate       float64 `json:"drop_rate"`       // connection cut without an answer
	GarbageRate    float64 `json:"garbage_rate"`    // 200 with random bytes (POSTs are processed first)
	WrongSignature float64 `json:"wrong_signature"` // jobs signed with a key that is not the issuer's
	Expired        float64 `json:"expired"`         // jobs whose validity ended
	OtherStation   float64 `json:"other_station"`   // jobs bound to another station
	DuplicateIDs   float64 `json:"duplicate_ids"`   // jobs reusing an earlier job id
}

// Options configure the server.
type Options struct {
	Dir      string // keys, certificates and state; created if needed
	KID      string // issuer key id [issuer-2026-1]
	Template []byte // template JSON served as "ektp-demo-v1" [card.DemoTemplateJSON()]
	Faults   Faults
	Now      func() time.Time
	Logger   zerolog.Logger
	// Validity of issued jobs [30 days].
	Validity time.Duration
	// NoChip issues jobs without chip data, for a station whose printers
	// have no encoder (the benchmark's four-printer station: vpcd has only
	// two virtual readers).
	NoChip bool
	// PhotoPool, when > 0, draws only this many different photos per
	// IssueJobs call and hands them out in turn: drawing and compressing a
	// photo is most of the cost of a job, and a benchmark that queues ten
	// thousand jobs needs their number and size, not ten thousand faces.
	PhotoPool int
	// ImageFormat is how photos and signature images are encoded: WebP
	// lossless [the default, ""] or PNG (the earlier form, to measure
	// against; centralsim --images png). Both carry the same pixels.
	ImageFormat imgenc.Format
}

// OutcomeRecord is one outcome item as received, with how often its key came.
type OutcomeRecord struct {
	Station string
	Item    jobqueue.OutcomeItem
	Posts   int
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	opts     Options
	issuer   ed25519.PrivateKey
	witness  note.Signer
	wvkey    string
	pki      *pki
	tmpl     []byte
	tmplRef  jobqueue.TemplateRef
	handler  http.Handler
	stateLog *os.File

	mu         sync.Mutex
	faults     Faults
	rng        *mrand.Rand
	stations   map[string]*stationState
	idem       map[string][]byte // station|op|key → first answer
	outcomes   map[string]*OutcomeRecord
	outcomeSeq []string
	stock      map[string][][]byte
	// Requests for blanks (stock.go): per station in arrival order, and
	// how many times each idempotency key was posted.
	blankReqs  map[string][]*BlankRequest
	blankPosts map[string]int
	// The witness (witness.go): per station the pinned key, epoch and
	// last cosigned tree; every cosigned checkpoint and enrolment; the
	// jobs closed by an outcome and the jobs held after a re-enrolment.
	witnessed  map[string]*witnessState
	cosigned   map[string][]inventory.CentreCheckpoint
	enrolments map[string][]inventory.CentreEnrolment
	closedJobs map[string]map[string]string
	heldJobs   map[string]map[string]bool
	changed    chan struct{} // closed and replaced when any feed grows
}

type feedEntry struct {
	Seq     int    `json:"seq"`
	JWS     string `json:"jws,omitempty"`
	JobID   string `json:"job_id"`
	Revoked bool   `json:"revoked,omitempty"`
	// Faulty marks a job issued wrong on purpose; duplicates reuse only
	// good ids, so a test knows how many refusals to expect.
	Faulty bool `json:"faulty,omitempty"`
}

type stationState struct {
	feed    []feedEntry
	served  int // highest feed seq handed to the station
	nextJob int
	batches int
	people  map[string]uint64 // job id → person seed, for reprints
}

// TemplateID is the id the simulator serves its template under.
const TemplateID = "ektp-demo-v1"

// New loads or creates the server's keys and state in opts.Dir.
func New(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("central: Options.Dir is empty")
	}
	if opts.KID == "" {
		opts.KID = "issuer-2026-1"
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Validity == 0 {
		opts.Validity = 30 * 24 * time.Hour
	}
	format, ferr := imgenc.ParseFormat(string(opts.ImageFormat))
	if ferr != nil {
		return nil, fmt.Errorf("central: %w", ferr)
	}
	opts.ImageFormat = format
	if opts.Template == nil {
		opts.Template = card.DemoTemplateJSON()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("central: %w", err)
	}
	s := &Server{
		opts: opts, faults: opts.Faults, tmpl: opts.Template,
		rng:        mrand.New(mrand.NewPCG(uint64(time.Now().UnixNano()), 7)),
		stations:   map[string]*stationState{},
		idem:       map[string][]byte{},
		outcomes:   map[string]*OutcomeRecord{},
		stock:      map[string][][]byte{},
		blankReqs:  map[string][]*BlankRequest{},
		blankPosts: map[string]int{},
		witnessed:  map[string]*witnessState{},
		cosigned:   map[string][]inventory.CentreCheckpoint{},
		enrolments: map[string][]inventory.CentreEnrolment{},
		closedJobs: map[string]map[string]string{},
		heldJobs:   map[string]map[string]bool{},
		changed:    make(chan struct{}),
	}
	sum := sha256.Sum256(s.tmpl)
	s.tmplRef = jobqueue.TemplateRef{ID: TemplateID, SHA256: hex.EncodeToString(sum[:])}
	var err error
	if s.issuer, err = loadOrCreateEd25519(filepath.Join(opts.Dir, "issuer.seed")); err != nil {
		return nil, err
	}
	if err := s.loadWitness(); err != nil {
		return nil, err
	}
	if s.pki, err = loadOrCreatePKI(opts.Dir); err != nil {
		return nil, err
	}
	if _, _, err := s.pki.issue("server", true); err != nil {
		return nil, err
	}
	// The issuer's public key, in the form a station's
	// [[central.issuer_key]] file takes (base64 of the 32 bytes).
	pub := base64.StdEncoding.EncodeToString(s.issuer.Public().(ed25519.PublicKey)) + "\n"
	if err := os.WriteFile(s.issuerKeyFile(), []byte(pub), 0o644); err != nil {
		return nil, err
	}
	if err := s.replay(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

// Close releases the state file.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stateLog != nil {
		return s.stateLog.Close()
	}
	return nil
}

func loadOrCreateEd25519(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		seed := make([]byte, ed25519.SeedSize)
		rand.Read(seed)
		if err := os.WriteFile(path, []byte(hex.EncodeToString(seed)+"\n"), 0o600); err != nil {
			return nil, err
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if err != nil {
		return nil, err
	}
	seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("central: %s is not a hex Ed25519 seed", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

func (s *Server) loadWitness() error {
	skPath, vkPath := filepath.Join(s.opts.Dir, "witness.skey"), filepath.Join(s.opts.Dir, "witness.vkey")
	if _, err := os.Stat(skPath); errors.Is(err, os.ErrNotExist) {
		sk, vk, err := note.GenerateKey(rand.Reader, "centralsim-witness")
		if err != nil {
			return err
		}
		if err := os.WriteFile(skPath, []byte(sk), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(vkPath, []byte(vk), 0o644); err != nil {
			return err
		}
	}
	sk, err := os.ReadFile(skPath)
	if err != nil {
		return err
	}
	vk, err := os.ReadFile(vkPath)
	if err != nil {
		return err
	}
	if s.witness, err = note.NewSigner(strings.TrimSpace(string(sk))); err != nil {
		return fmt.Errorf("central: witness key: %w", err)
	}
	s.wvkey = strings.TrimSpace(string(vk))
	return nil
}

// WitnessVerifierKey is the note verifier key of the centre's cosignature.
func (s *Server) WitnessVerifierKey() string { return s.wvkey }

// IssuerPublicKey returns the issuer's kid and public key.
func (s *Server) IssuerPublicKey() (string, ed25519.PublicKey) {
	return s.opts.KID, s.issuer.Public().(ed25519.PublicKey)
}

// TemplateRef is the id and hash of the served template.
func (s *Server) TemplateRef() jobqueue.TemplateRef { return s.tmplRef }

// StationFiles are the files a station config points at.
type StationFiles struct {
	CertFile, KeyFile, CAFile, WitnessVKeyFile string
	// IssuerKID and IssuerKeyFile are what a station pins as its
	// [[central.issuer_key]] id and file.
	IssuerKID, IssuerKeyFile string
}

// StationFiles writes (once) a client certificate for station and returns
// the paths of everything the station needs to talk to this server.
func (s *Server) StationFiles(station string) (StationFiles, error) {
	if !validID(station) {
		return StationFiles{}, fmt.Errorf("central: bad station id %q", station)
	}
	c, k, err := s.pki.issue("station-"+station, false)
	if err != nil {
		return StationFiles{}, err
	}
	return StationFiles{CertFile: c, KeyFile: k, CAFile: filepath.Join(s.opts.Dir, "ca.pem"),
		IssuerKID: s.opts.KID, IssuerKeyFile: s.issuerKeyFile(), WitnessVKeyFile: filepath.Join(s.opts.Dir, "witness.vkey")}, nil
}

func (s *Server) issuerKeyFile() string {
	return filepath.Join(s.opts.Dir, s.opts.KID+".pub")
}

func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
			return false
		}
	}
	return true
}

// TLSConfig is the server side of mTLS: the server certificate, and client
// certificates required and verified against the simulator's CA.
func (s *Server) TLSConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.opts.Dir, "server.pem"), filepath.Join(s.opts.Dir, "server.key"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(s.pki.caCert)
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}, nil
}

// ServeTLS serves the API with mTLS on l until the returned server is closed.
func (s *Server) ServeTLS(l net.Listener) (*http.Server, error) {
	cfg, err := s.TLSConfig()
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: s, TLSConfig: cfg, ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(tls.NewListener(l, cfg))
	return hs, nil
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// SetFaults replaces the fault switches.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
}

// Faults returns the current fault switches.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

func (s *Server) station(id string) *stationState {
	st := s.stations[id]
	if st == nil {
		st = &stationState{people: map[string]uint64{}}
		s.stations[id] = st
	}
	return st
}

func regencyFor(station string) *Regency {
	parts := strings.Split(station, "-")
	if len(parts) >= 2 {
		for i := range Regencies {
			if Regencies[i].Code == parts[1] {
				return &Regencies[i]
			}
		}
	}
	return &Regencies[0]
}

// IssueJobs issues n jobs for station in batches of batchSize and returns
// their ids. Job faults switched on apply to the jobs issued now.
func (s *Server) IssueJobs(station string, n, batchSize int) ([]string, error) {
	if !validID(station) {
		return nil, fmt.Errorf("central: bad station id %q", station)
	}
	if batchSize <= 0 {
		batchSize = 25
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.station(station)
	reg := regencyFor(station)
	now := s.opts.Now()
	var ids []string
	var batch string
	type pooled struct{ photo, signature []byte }
	pool := map[int]*pooled{} // Options.PhotoPool
	for i := 0; i < n; i++ {
		if i%batchSize == 0 {
			st.batches++
			batch = fmt.Sprintf("B-%s-%s-%02d", reg.Code, now.Format("20060102"), st.batches)
		}
		st.nextJob++
		seed := jobSeed(station, st.nextJob)
		spec := JobSpec{
			Station: station, JobID: fmt.Sprintf("J-%s-%06d", reg.Code, st.nextJob), Batch: batch,
			Recorded: now.Add(-time.Duration(s.rng.IntN(14*24*60)) * time.Minute).Truncate(time.Minute),
			Issued:   now, Validity: s.opts.Validity, Template: s.tmplRef, KID: s.opts.KID, Seed: seed,
		}
		im := personImages{format: s.opts.ImageFormat}
		if s.opts.PhotoPool > 0 {
			k := st.nextJob % s.opts.PhotoPool
			if pool[k] == nil {
				pool[k] = &pooled{}
			}
			pk := pool[k]
			im.photo = func() ([]byte, error) {
				var err error
				if pk.photo == nil {
					pk.photo, err = imgenc.Encode(face(mrand.New(mrand.NewPCG(uint64(k), 1)), 240, 320), s.opts.ImageFormat)
				}
				return pk.photo, err
			}
			im.signature = func(drawn image.Image) ([]byte, error) {
				var err error
				if pk.signature == nil {
					pk.signature, err = imgenc.Encode(drawn, s.opts.ImageFormat)
				}
				return pk.signature, err
			}
		}
		per, err := newPerson(seed, reg, im)
		if err != nil {
			return nil, err
		}
		spec.Person = per
		if s.opts.NoChip {
			spec.Person.Chip = jobqueue.Chip{}
		}
		jws, id, faulty, err := s.signWithFaults(spec)
		if err != nil {
			return nil, err
		}
		st.people[spec.JobID] = seed
		s.appendFeed(station, feedEntry{JWS: jws, JobID: id, Faulty: faulty})
		ids = append(ids, id)
	}
	s.notifyLocked()
	return ids, nil
}

func (s *Server) signWithFaults(spec JobSpec) (jws, id string, faulty bool, err error) {
	f := s.faults
	key := s.issuer
	station0, id0, issued0 := spec.Station, spec.JobID, spec.Issued
	if s.rng.Float64() < f.Expired {
		spec.Issued = spec.Issued.Add(-2 * spec.Validity)
	}
	if s.rng.Float64() < f.OtherStation {
		spec.Station = "ST-9999-99"
	}
	if s.rng.Float64() < f.DuplicateIDs {
		var good []string
		for _, e := range s.station(station0).feed {
			if !e.Faulty && !e.Revoked {
				good = append(good, e.JobID)
			}
		}
		if len(good) > 0 {
			spec.JobID = good[s.rng.IntN(len(good))]
		}
	}
	if s.rng.Float64() < f.WrongSignature {
		_, key, _ = ed25519.GenerateKey(rand.Reader)
	}
	faulty = spec.Station != station0 || spec.JobID != id0 || !key.Equal(s.issuer) || !spec.Issued.Equal(issued0)
	jws, err = Sign(key, spec.KID, spec.Payload())
	return jws, spec.JobID, faulty, err
}

// IssueReprint issues a reprint of an earlier job of the station.
func (s *Server) IssueReprint(station, of string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.station(station)
	seed, ok := st.people[of]
	if !ok {
		return "", fmt.Errorf("central: station %s has no job %s", station, of)
	}
	reg := regencyFor(station)
	per, err := newPerson(seed, reg, personImages{format: s.opts.ImageFormat})
	if err != nil {
		return "", err
	}
	st.nextJob++
	now := s.opts.Now()
	spec := JobSpec{
		Station: station, JobID: fmt.Sprintf("J-%s-%06d", reg.Code, st.nextJob), Batch: fmt.Sprintf("B-%s-%s-R", reg.Code, now.Format("20060102")),
		Kind: jobqueue.KindReprint, ReprintOf: of, Recorded: now.Truncate(time.Minute), Issued: now, Validity: s.opts.Validity,
		Template: s.tmplRef, KID: s.opts.KID, Seed: seed, Person: per,
	}
	jws, err := Sign(s.issuer, s.opts.KID, spec.Payload())
	if err != nil {
		return "", err
	}
	st.people[spec.JobID] = seed
	s.appendFeed(station, feedEntry{JWS: jws, JobID: spec.JobID})
	s.notifyLocked()
	return spec.JobID, nil
}

// Revoke revokes a job of the station.
func (s *Server) Revoke(station, jobID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendFeed(station, feedEntry{JobID: jobID, Revoked: true})
	s.notifyLocked()
}

// IssuedJobs lists the ids of the valid jobs issued to station (what a
// correct station must end up holding).
func (s *Server) IssuedJobs(station string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.station(station).feed {
		if !e.Revoked {
			out = append(out, e.JobID)
		}
	}
	return out
}

// Outcomes returns the outcome items received from station, in arrival
// order, each with how many times its key was posted.
func (s *Server) Outcomes(station string) []OutcomeRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []OutcomeRecord
	for _, k := range s.outcomeSeq {
		if r := s.outcomes[k]; r.Station == station || station == "" {
			out = append(out, *r)
		}
	}
	return out
}

// Checkpoints returns the cosigned checkpoints of station (the notes).
func (s *Server) Checkpoints(station string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.cosigned[station] {
		out = append(out, c.Checkpoint)
	}
	return out
}

// StockReports returns the stock reports of station.
func (s *Server) StockReports(station string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.stock[station]...)
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// state log: every feed entry, outcome and idempotent answer, as JSON lines,
// so that a restarted centralsim continues where it was.
type logRec struct {
	Feed    *feedEntry     `json:"feed,omitempty"`
	Station string         `json:"station"`
	Outcome *OutcomeRecord `json:"outcome,omitempty"`
	IdemKey string         `json:"idem_key,omitempty"`
	Answer  []byte         `json:"answer,omitempty"`
	Check   string         `json:"checkpoint,omitempty"` // before witnessing; ignored
	// Witness records (witness.go).
	Cosigned  *inventory.CentreCheckpoint `json:"cosigned,omitempty"`
	Enrolment *inventory.CentreEnrolment  `json:"enrolment,omitempty"`
	Served    int                         `json:"served,omitempty"`
	// Stock reports and requests for blanks (stock.go).
	StockReport  json.RawMessage `json:"stock_report,omitempty"`
	BlankRequest *BlankRequest   `json:"blank_request,omitempty"`
}

func (s *Server) replay() error {
	path := filepath.Join(s.opts.Dir, "state.jsonl")
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			var r logRec
			if json.Unmarshal(sc.Bytes(), &r) != nil {
				continue // a torn last line after a crash
			}
			switch {
			case r.Feed != nil:
				st := s.station(r.Station)
				st.feed = append(st.feed, *r.Feed)
				if !r.Feed.Revoked {
					st.nextJob++
					if n := strings.LastIndex(r.Feed.JobID, "-"); n >= 0 {
						if v, err := strconv.Atoi(r.Feed.JobID[n+1:]); err == nil && v > st.nextJob {
							st.nextJob = v
						}
					}
				}
			case r.Outcome != nil:
				rec := *r.Outcome
				if old := s.outcomes[rec.Item.Key]; old != nil {
					old.Posts = rec.Posts
				} else {
					s.outcomes[rec.Item.Key] = &rec
					s.outcomeSeq = append(s.outcomeSeq, rec.Item.Key)
					if closingOutcomes[rec.Item.Outcome] && rec.Item.JobID != "" && !strings.HasPrefix(rec.Item.Reason, string(jobqueue.CodeDuplicate)+":") {
						if _, ok := s.closed(rec.Station)[rec.Item.JobID]; !ok {
							s.closed(rec.Station)[rec.Item.JobID] = rec.Item.Key
						}
					}
				}
			case r.IdemKey != "":
				s.idem[r.IdemKey] = r.Answer
			case r.Enrolment != nil:
				s.applyEnrolmentLocked(r.Station, *r.Enrolment)
			case r.Cosigned != nil:
				c := *r.Cosigned
				if st := s.witnessed[r.Station]; st != nil {
					if _, t, err := inventory.ParseCheckpoint([]byte(noteTextOf(c.Checkpoint))); err == nil {
						st.Size, st.Root, st.Note = t.N, t.Hash, c.Checkpoint
					}
				}
				s.cosigned[r.Station] = append(s.cosigned[r.Station], c)
			case r.StockReport != nil:
				s.stock[r.Station] = append(s.stock[r.Station], []byte(r.StockReport))
			case r.BlankRequest != nil:
				s.replayBlankRequestLocked(r.Station, r.BlankRequest)
			case r.Served > 0:
				if st := s.station(r.Station); r.Served > st.served {
					st.served = r.Served
				}
			}
		}
		f.Close()
	}
	var err error
	s.stateLog, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	return err
}

func (s *Server) logLocked(r logRec) {
	if s.stateLog == nil {
		return
	}
	b, _ := json.Marshal(r)
	s.stateLog.Write(append(b, '\n'))
}

func (s *Server) appendFeed(station string, e feedEntry) {
	st := s.station(station)
	e.Seq = len(st.feed) + 1
	st.feed = append(st.feed, e)
	s.logLocked(logRec{Station: station, Feed: &e})
}

// ---- HTTP ----

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/stations/{station}/jobs", s.handleJobs)
	mux.HandleFunc("GET /v1/stations/{station}/revocations", s.handleRevocations)
	mux.HandleFunc("GET /v1/templates/{id}", s.handleTemplate)
	mux.HandleFunc("POST /v1/stations/{station}/outcomes", s.idempotent("outcomes", s.handleOutcomes))
	mux.HandleFunc("POST /v1/stations/{station}/checkpoints", s.idempotent("checkpoints", s.handleCheckpoint))
	mux.HandleFunc("GET /v1/stations/{station}/checkpoints/latest", s.handleLatest)
	mux.HandleFunc("GET /v1/stations/{station}/checkpoints", s.handleExport)
	mux.HandleFunc("POST /v1/stations/{station}/enrolment", s.idempotent("enrolment", s.handleEnrolment))
	mux.HandleFunc("GET /admin/export", s.handleExport)
	mux.HandleFunc("POST /v1/stations/{station}/stock", s.idempotent("stock", s.handleStock))
	mux.HandleFunc("POST /v1/stations/{station}/blank-requests", s.countPosts(s.idempotentKeyed("blank-requests", s.handleBlankRequest)))
	mux.HandleFunc("GET /admin/blank-requests", s.handleListBlankRequests)
	mux.HandleFunc("GET /admin/stock-reports", s.handleListStockReports)
	mux.HandleFunc("GET /admin/faults", s.handleGetFaults)
	mux.HandleFunc("POST /admin/faults", s.handleSetFaults)
	mux.HandleFunc("POST /admin/issue", s.handleIssue)
	mux.HandleFunc("POST /admin/revoke", s.handleRevoke)
	mux.HandleFunc("GET /admin/outcomes", s.handleListOutcomes)
	return s.withFaults(s.withStationAuth(mux))
}

// withStationAuth lets a client certificate act only for its own station
// (the certificate's common name is "station-<id>").
func (s *Server) withStationAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && strings.HasPrefix(r.URL.Path, "/v1/stations/") {
			cn := r.TLS.PeerCertificates[0].Subject.CommonName
			parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/v1/stations/"), "/", 2)
			if "station-"+parts[0] != cn {
				httpError(w, http.StatusForbidden, "certificate %q may not act for station %q", cn, parts[0])
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func httpError(w http.ResponseWriter, code int, format string, a ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": fmt.Sprintf(format, a...)})
}

func (s *Server) withFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			next.ServeHTTP(w, r)
			return
		}
		s.mu.Lock()
		f := s.faults
		drop, fail, garbage := s.rng.Float64() < f.DropRate, s.rng.Float64() < f.ErrorRate, s.rng.Float64() < f.GarbageRate
		s.mu.Unlock()
		if f.LatencyMS > 0 {
			select {
			case <-time.After(time.Duration(f.LatencyMS) * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		if drop {
			panic(http.ErrAbortHandler) // the server closes the connection without an answer
		}
		if fail {
			httpError(w, http.StatusServiceUnavailable, "simulated outage")
			return
		}
		var out io.Writer = w
		if f.BandwidthBps > 0 {
			out = &throttled{w: w, bps: f.BandwidthBps, ctxDone: r.Context().Done()}
		}
		rec := &recorder{header: http.Header{}, code: 200}
		next.ServeHTTP(rec, r)
		body := rec.buf
		if garbage {
			body = make([]byte, 64+s.rng.IntN(512))
			rand.Read(body)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if len(body) > 512 && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && !garbage {
			var zb strings.Builder
			zw := gzip.NewWriter(&zb)
			zw.Write(body)
			zw.Close()
			body = []byte(zb.String())
			w.Header().Set("Content-Encoding", "gzip")
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		out.Write(body)
	})
}

type recorder struct {
	header http.Header
	code   int
	buf    []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(c int)           { r.code = c }
func (r *recorder) Write(b []byte) (int, error) { r.buf = append(r.buf, b...); return len(b), nil }

type throttled struct {
	w       http.ResponseWriter
	bps     int
	ctxDone <-chan struct{}
}

func (t *throttled) Write(b []byte) (int, error) {
	n := 0
	chunk := max(t.bps/10, 64)
	for n < len(b) {
		c := min(chunk, len(b)-n)
		m, err := t.w.Write(b[n : n+c])
		n += m
		if err != nil {
			return n, err
		}
		if f, ok := t.w.(http.Flusher); ok {
			f.Flush()
		}
		select {
		case <-time.After(time.Duration(c) * time.Second / time.Duration(t.bps)):
		case <-t.ctxDone:
			return n, errors.New("client gone")
		}
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	q := r.URL.Query()
	cursor, _ := strconv.Atoi(q.Get("cursor"))
	wait, _ := strconv.Atoi(q.Get("wait"))
	wait = min(max(wait, 0), 60)
	maxN, _ := strconv.Atoi(q.Get("max"))
	if maxN <= 0 || maxN > 500 {
		maxN = 500
	}
	maxBytes, _ := strconv.Atoi(q.Get("max_bytes"))
	deadline := time.NewTimer(time.Duration(wait) * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		st := s.station(station)
		feed := st.feed
		changed := s.changed
		closed, held := s.closed(station), s.held(station)
		var jobs, revoked []string
		next, size := cursor, 0
		for _, e := range feed {
			if e.Seq <= cursor {
				continue
			}
			_, isClosed := closed[e.JobID]
			if e.Revoked {
				revoked = append(revoked, e.JobID)
			} else if (isClosed && !e.Faulty) || held[e.JobID] {
				// Never served again: it has an outcome, or it is in
				// question after a re-enrolment until a person decides.
			} else {
				if len(jobs) >= maxN || (maxBytes > 0 && len(jobs) > 0 && size+len(e.JWS) > maxBytes) {
					break
				}
				jobs = append(jobs, e.JWS)
				size += len(e.JWS)
			}
			next = e.Seq
		}
		if next > st.served {
			st.served = next
			s.logLocked(logRec{Station: station, Served: next})
		}
		s.mu.Unlock()
		if len(jobs) > 0 || len(revoked) > 0 || wait == 0 {
			writeJSON(w, map[string]any{"jobs": nonNil(jobs), "cursor": strconv.Itoa(next), "revoked": nonNil(revoked)})
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *Server) handleRevocations(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.Atoi(r.URL.Query().Get("since"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var rev []string
	next := since
	for _, e := range s.station(r.PathValue("station")).feed {
		if e.Seq > since {
			next = e.Seq
			if e.Revoked {
				rev = append(rev, e.JobID)
			}
		}
	}
	writeJSON(w, map[string]any{"revoked": nonNil(rev), "cursor": strconv.Itoa(next)})
}

func (s *Server) handleTemplate(w http.ResponseWriter, r *http.Request) {
	if r.PathValue("id") != TemplateID {
		httpError(w, http.StatusNotFound, "no template %q", r.PathValue("id"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.tmpl)
}

// idempotent answers a repeated Idempotency-Key with the first answer and
// changes nothing.
func (s *Server) idempotent(op string, h func(station string, body []byte) (any, int, error)) http.HandlerFunc {
	return s.idempotentKeyed(op, func(station, _ string, body []byte) (any, int, error) { return h(station, body) })
}

// idempotentKeyed is idempotent for a handler that also keeps the key.
func (s *Server) idempotentKeyed(op string, h func(station, key string, body []byte) (any, int, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		station := r.PathValue("station")
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			httpError(w, http.StatusBadRequest, "Idempotency-Key header is required")
			return
		}
		var rd io.Reader = http.MaxBytesReader(w, r.Body, 8<<20)
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(rd)
			if err != nil {
				httpError(w, http.StatusBadRequest, "body is not gzip: %v", err)
				return
			}
			rd = io.LimitReader(zr, 32<<20)
		}
		body, err := io.ReadAll(rd)
		if err != nil {
			httpError(w, http.StatusBadRequest, "reading body: %v", err)
			return
		}
		ik := station + "|" + op + "|" + key
		s.mu.Lock()
		if ans, ok := s.idem[ik]; ok {
			s.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Idempotent-Replayed", "true")
			w.Write(ans)
			return
		}
		s.mu.Unlock()
		v, code, err := h(station, key, body)
		var c *conflict
		if errors.As(err, &c) {
			writeConflict(w, c)
			return
		}
		if err != nil {
			httpError(w, code, "%v", err)
			return
		}
		ans, _ := json.Marshal(v)
		s.mu.Lock()
		if first, ok := s.idem[ik]; ok { // a concurrent duplicate won
			ans = first
		} else {
			s.idem[ik] = ans
			s.logLocked(logRec{Station: station, IdemKey: ik, Answer: ans})
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(ans)
	}
}

var validOutcomes = map[string]bool{"printed": true, "spoiled": true, "refused": true, "cancelled": true, "uncertain_resolved": true, "failed": true, "revoked": true, "revocation_late": true}

func (s *Server) handleOutcomes(station string, body []byte) (any, int, error) {
	var req struct {
		Items []jobqueue.OutcomeItem `json:"items"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, http.StatusBadRequest, fmt.Errorf("body is not {\"items\": [...]}: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	accepted := []string{}
	type rejection struct {
		Key    string `json:"key"`
		Reason string `json:"reason"`
	}
	rejected := []rejection{}
	closed := s.closed(station)
	for _, it := range req.Items {
		if it.Key == "" || !validOutcomes[it.Outcome] {
			continue
		}
		// A refusal of a second envelope reusing a job's id speaks of that
		// envelope, not of the job: it neither closes the job nor is
		// refused for it.
		dup := it.Outcome == "refused" && strings.HasPrefix(it.Reason, string(jobqueue.CodeDuplicate)+":")
		if first, ok := closed[it.JobID]; ok && !dup && it.JobID != "" && first != it.Key && s.outcomes[it.Key] == nil && it.Outcome != "revocation_late" {
			// The job was closed by an earlier outcome: a second one is a
			// second card or a station that started over. Recorded as
			// refused, never counted.
			prev := s.outcomes[first]
			rejected = append(rejected, rejection{Key: it.Key, Reason: fmt.Sprintf("job %s was already closed as %s; this %s outcome is refused (a second card for one job, or a station that lost its database)", it.JobID, prev.Item.Outcome, it.Outcome)})
			continue
		}
		if closingOutcomes[it.Outcome] && it.JobID != "" && !dup {
			if _, ok := closed[it.JobID]; !ok {
				closed[it.JobID] = it.Key
			}
		}
		if rec := s.outcomes[it.Key]; rec != nil {
			rec.Posts++
			s.logLocked(logRec{Station: station, Outcome: rec})
		} else {
			rec := &OutcomeRecord{Station: station, Item: it, Posts: 1}
			s.outcomes[it.Key] = rec
			s.outcomeSeq = append(s.outcomeSeq, it.Key)
			s.logLocked(logRec{Station: station, Outcome: rec})
		}
		accepted = append(accepted, it.Key)
	}
	return map[string]any{"accepted": accepted, "rejected": rejected}, 0, nil
}

func (s *Server) handleGetFaults(w http.ResponseWriter, r *http.Request) { writeJSON(w, s.Faults()) }

func (s *Server) handleSetFaults(w http.ResponseWriter, r *http.Request) {
	var f Faults
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		httpError(w, http.StatusBadRequest, "faults: %v", err)
		return
	}
	s.SetFaults(f)
	writeJSON(w, f)
}

func (s *Server) handleIssue(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Station   string `json:"station"`
		Count     int    `json:"count"`
		BatchSize int    `json:"batch_size"`
		ReprintOf string `json:"reprint_of"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
		httpError(w, http.StatusBadRequest, "issue: %v", err)
		return
	}
	if req.ReprintOf != "" {
		id, err := s.IssueReprint(req.Station, req.ReprintOf)
		if err != nil {
			httpError(w, http.StatusBadRequest, "%v", err)
			return
		}
		writeJSON(w, map[string]any{"jobs": []string{id}})
		return
	}
	if req.Count <= 0 || req.Count > 10000 {
		httpError(w, http.StatusBadRequest, "count must be 1..10000")
		return
	}
	ids, err := s.IssueJobs(req.Station, req.Count, req.BatchSize)
	if err != nil {
		httpError(w, http.StatusBadRequest, "%v", err)
		return
	}
	writeJSON(w, map[string]any{"jobs": ids})
}

func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Station string `json:"station"`
		JobID   string `json:"job_id"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil || req.JobID == "" || !validID(req.Station) {
		httpError(w, http.StatusBadRequest, `revoke: want {"station": "...", "job_id": "..."}`)
		return
	}
	s.Revoke(req.Station, req.JobID)
	writeJSON(w, map[string]bool{"ok": true})
}

func (s *Server) handleListOutcomes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Outcomes(r.URL.Query().Get("station")))
}

// noteTextOf is the text of a signed note (up to the blank line).
func noteTextOf(msg string) string {
	if i := strings.Index(msg, "\n\n"); i >= 0 {
		return msg[:i+1]
	}
	return msg
}
