package jobqueue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Central is what the syncer needs of the centre (*Client provides it).
type Central interface {
	FetchJobs(ctx context.Context, cursor string, wait time.Duration, max int, maxBytes int64) (JobsPage, error)
	FetchTemplate(ctx context.Context, id string) ([]byte, error)
	PostOutcomes(ctx context.Context, idemKey string, items []OutcomeItem) (OutcomesAnswer, error)
	PostCheckpoint(ctx context.Context, idemKey string, cp CheckpointPost) (string, error)
	PostStock(ctx context.Context, idemKey string, report []byte) (ref string, err error)
	PostBlankRequest(ctx context.Context, idemKey string, request []byte) (ref string, err error)
}

// SyncOptions tune the syncer; zero values take the defaults in brackets.
type SyncOptions struct {
	PrefetchJobs  int           // most jobs held not yet printed [200]
	PrefetchBytes int64         // most envelope bytes held not yet printed [32 MiB]
	Wait          time.Duration // long-poll wait [25s]
	MinBackoff    time.Duration // first retry delay after an error [1s]
	MaxBackoff    time.Duration // longest retry delay [2m]
	IdlePoll      time.Duration // re-check interval when the window is full or nothing to send [5s]
	OutcomeBatch  int           // outcomes per request [50]
	PageJobs      int           // most jobs asked for in one page [500]
	// PageRevocations bounds the revocations taken from one page [10000].
	PageRevocations int
	// OnCheckpoint receives the centre's cosigned checkpoint (the ledger
	// stores it). The item is acknowledged only once it returns nil.
	OnCheckpoint func(ctx context.Context, key, cosigned string) error
	// Witness proves each checkpoint consistent with the last tree the
	// centre witnessed (the ledger provides it). Without it checkpoints go
	// without a proof, which a witnessing centre accepts only first.
	Witness WitnessProver
	Logger  zerolog.Logger
}

func (o SyncOptions) withDefaults() SyncOptions {
	if o.PrefetchJobs <= 0 {
		o.PrefetchJobs = 200
	}
	if o.PrefetchBytes <= 0 {
		o.PrefetchBytes = 32 << 20
	}
	if o.Wait <= 0 {
		o.Wait = 25 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 2 * time.Minute
		if o.MaxBackoff < o.MinBackoff {
			o.MaxBackoff = o.MinBackoff
		}
	}
	if o.IdlePoll <= 0 {
		o.IdlePoll = 5 * time.Second
	}
	if o.OutcomeBatch <= 0 {
		o.OutcomeBatch = 50
	}
	if o.PageJobs <= 0 {
		o.PageJobs = 500
	}
	if o.PageRevocations <= 0 {
		o.PageRevocations = 10000
	}
	return o
}

// WitnessProver makes consistency proofs for checkpoints.
type WitnessProver interface {
	// WitnessedSize is the size of the last checkpoint the centre cosigned
	// that the station holds.
	WitnessedSize(ctx context.Context) (int64, error)
	// ProveNote returns the checkpoint's size and the proof from the tree
	// of size from to it.
	ProveNote(ctx context.Context, note []byte, from int64) (size int64, proof []string, err error)
}

// CursorJobs is the name of the jobs cursor in sync_state.
const CursorJobs = "jobs"

// Syncer pulls jobs into the queue and drains the outbox to the centre.
type Syncer struct {
	q    *Queue
	c    Central
	opts SyncOptions
	log  zerolog.Logger

	mu     sync.Mutex
	status SyncStatus

	// templateFails counts, per template hash, the fetches whose bytes were
	// wrong. A garbled answer on a bad link looks exactly like a centre that
	// serves another version than it signed, so a template's jobs are refused
	// for good only after templateAttempts wrong answers in a row; one bad
	// transfer must not cost citizens their cards. Held in memory: a restart
	// gives more tries, never fewer.
	templateFails map[string]int

	nudge chan struct{} // Nudge: try the reports now
}

// templateAttempts is how many wrong answers for one template are taken as
// the centre's word rather than a damaged transfer.
const templateAttempts = 5

// SyncStatus is what the web page shows about the link.
type SyncStatus struct {
	LastPull     time.Time // last successful jobs request
	LastPush     time.Time // last successful report
	PullFailures int       // consecutive
	PushFailures int       // consecutive
	LastError    string
}

// NewSyncer ties a queue to the centre.
func NewSyncer(q *Queue, c Central, opts SyncOptions) *Syncer {
	opts = opts.withDefaults()
	return &Syncer{q: q, c: c, opts: opts, log: opts.Logger.With().Str("component", "sync").Logger(), nudge: make(chan struct{}, 1)}
}

// Nudge makes the reports go out now, even while the syncer waits out its
// back-off after a failure: a person who just asked for something (a
// request for blanks, an announcement) should not wait minutes for the
// next try because the link was down a while ago.
func (s *Syncer) Nudge() {
	select {
	case s.nudge <- struct{}{}:
	default:
	}
}

// Status returns the link's state.
func (s *Syncer) Status() SyncStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Run pulls and pushes until ctx ends; it returns ctx's error.
func (s *Syncer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.pullLoop(ctx) }()
	go func() { defer wg.Done(); s.pushLoop(ctx) }()
	wg.Wait()
	return ctx.Err()
}

// backoff is exponential with jitter, so that many stations coming back
// after an outage do not hit the centre in step.
type backoff struct {
	min, max time.Duration
	n        int
}

func (b *backoff) next() time.Duration {
	d := b.min << min(b.n, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	b.n++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.n = 0 }

func sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-wake:
	}
}

func (s *Syncer) pullLoop(ctx context.Context) {
	b := backoff{min: s.opts.MinBackoff, max: s.opts.MaxBackoff}
	for ctx.Err() == nil {
		full, err := s.PullOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if err != nil {
			s.status.PullFailures++
			s.status.LastError = err.Error()
		} else {
			s.status.PullFailures = 0
			s.status.LastPull = time.Now()
		}
		s.mu.Unlock()
		switch {
		case err != nil:
			d := b.next()
			s.log.Warn().Err(err).Dur("retry_in", d).Msg("sync: pulling jobs failed")
			sleep(ctx, d, nil)
		case full:
			b.reset()
			sleep(ctx, s.opts.IdlePoll, nil)
		default:
			b.reset()
		}
	}
}

// PullOnce fetches missing templates, then one page of jobs if the prefetch
// window has room. full reports that the window was full.
func (s *Syncer) PullOnce(ctx context.Context) (full bool, err error) {
	if err := s.fetchTemplates(ctx); err != nil {
		return false, err
	}
	w, err := s.q.Pending(ctx)
	if err != nil {
		return false, err
	}
	if w.Jobs >= s.opts.PrefetchJobs || w.Bytes >= s.opts.PrefetchBytes {
		return true, nil
	}
	cursor, err := s.q.Cursor(ctx, CursorJobs)
	if err != nil {
		return false, err
	}
	// Ask for no more than the window has room for, no more than one page
	// may hold, and no more bytes than the client accepts in one answer:
	// asking for more than it accepts would make every full page fail.
	askJobs := min(s.opts.PrefetchJobs-w.Jobs, s.opts.PageJobs)
	askBytes := min(s.opts.PrefetchBytes-w.Bytes, s.pageBytes())
	page, err := s.c.FetchJobs(ctx, cursor, s.opts.Wait, askJobs, askBytes)
	if err != nil {
		return false, err
	}
	// A page larger than asked is cut and the excess ignored: a broken or
	// hostile centre must not make the station store (and report) more
	// than it asked for. The cursor still moves past the page; the centre
	// kept the jobs it sent in excess and can serve them again after a
	// reset, which a correct centre never needs.
	if len(page.Jobs) > askJobs {
		s.log.Error().Int("asked", askJobs).Int("got", len(page.Jobs)).Msg("sync: the centre sent more jobs than asked; the excess is ignored (report this to the centre)")
		page.Jobs = page.Jobs[:askJobs]
	}
	if len(page.Revoked) > s.opts.PageRevocations {
		s.log.Error().Int("limit", s.opts.PageRevocations).Int("got", len(page.Revoked)).Msg("sync: the centre sent more revocations in one page than any page may hold; the excess is ignored")
		page.Revoked = page.Revoked[:s.opts.PageRevocations]
	}
	if len(page.Jobs) == 0 && len(page.Revoked) == 0 && (page.Cursor == "" || page.Cursor == cursor) {
		return false, nil
	}
	res, err := s.q.AddPage(ctx, page.Jobs, page.Revoked, CursorJobs, page.Cursor)
	if err != nil {
		return false, err
	}
	s.log.Info().Int("added", len(res.Added)).Int("refused", len(res.Refused)).Int("revoked", len(res.Revoked)).Str("cursor", page.Cursor).Msg("sync: jobs page stored")
	if len(res.Added) > 0 {
		return false, s.fetchTemplates(ctx)
	}
	return false, nil
}

// pageBytes is the most envelope bytes one page may carry: the client's
// answer limit less room for the page's JSON around the envelopes.
func (s *Syncer) pageBytes() int64 {
	if mb, ok := s.c.(interface{ MaxAnswerBytes() int64 }); ok {
		if n := mb.MaxAnswerBytes(); n > 0 {
			return n - n/8
		}
	}
	return 12 << 20
}

// fetchTemplates fetches the templates that received jobs wait for. A
// template that cannot be fetched for good (the centre does not have it,
// or its bytes do not match the hash the jobs were signed with, or it is
// not a usable template) refuses the jobs that name it, each reported to
// the centre; other jobs flow on. A passing failure (the link) leaves the
// jobs waiting and is retried on the next pull, without holding up pulls.
func (s *Syncer) fetchTemplates(ctx context.Context) error {
	missing, err := s.q.MissingTemplates(ctx)
	if err != nil {
		return err
	}
	for _, t := range missing {
		body, err := s.c.FetchTemplate(ctx, t.ID)
		if err == nil {
			err = s.q.PutTemplate(ctx, t.ID, t.SHA256, body)
		}
		if err == nil {
			s.log.Info().Str("template", t.ID).Str("sha256", t.SHA256[:12]).Msg("sync: template cached")
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		gone := templateGone(err)
		if gone {
			s.mu.Lock()
			if s.templateFails == nil {
				s.templateFails = map[string]int{}
			}
			s.templateFails[t.SHA256]++
			gone = s.templateFails[t.SHA256] >= templateAttempts
			s.mu.Unlock()
		}
		if !gone {
			s.log.Warn().Err(err).Str("template", t.ID).Msg("sync: template not fetched; its jobs wait and it is tried again")
			s.mu.Lock()
			s.status.LastError = err.Error()
			s.mu.Unlock()
			continue
		}
		n, rerr := s.q.RefuseForTemplate(ctx, t, err)
		if rerr != nil {
			return rerr
		}
		s.mu.Lock()
		delete(s.templateFails, t.SHA256)
		s.mu.Unlock()
		s.log.Error().Err(err).Str("template", t.ID).Int("jobs_refused", n).Msg("sync: template unusable; the jobs naming it are refused and reported")
	}
	return nil
}

// templateGone reports whether a template failure will not heal by itself.
func templateGone(err error) bool {
	var he *HTTPError
	if errors.As(err, &he) {
		return !he.Temporary()
	}
	return errors.Is(err, ErrTemplateHash) || errors.Is(err, ErrTemplateUnusable)
}

// postCheckpoint sends a checkpoint with its consistency proof from the
// last tree the centre witnessed. If the centre holds another size than the
// station thought (its answer says which), the proof is made again from
// that size, once: a ledger that extends the centre's tree can always
// prove it, and one that does not cannot.
func (s *Syncer) postCheckpoint(ctx context.Context, body []byte) (string, error) {
	cp := CheckpointPost{Checkpoint: string(body)}
	w := s.opts.Witness
	if w == nil {
		return s.c.PostCheckpoint(ctx, fmt.Sprintf("checkpoint@%d", sizeOfNote(body, -1)), cp)
	}
	from, err := w.WitnessedSize(ctx)
	if err != nil {
		return "", err
	}
	for try := 0; ; try++ {
		size, proof, err := w.ProveNote(ctx, body, min(from, sizeOfNote(body, from)))
		if err != nil {
			return "", err
		}
		cp.OldSize, cp.Proof = min(from, size), proof
		key := fmt.Sprintf("checkpoint@%d/from%d", size, cp.OldSize)
		cos, err := s.c.PostCheckpoint(ctx, key, cp)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 409 || he.LatestSize < 0 {
			return cos, err
		}
		if he.LatestSize > size {
			he.superseded = true
			return "", he
		}
		if try > 0 || he.LatestSize == from {
			return "", err
		}
		from = he.LatestSize
	}
}

// sizeOfNote reads a checkpoint note's size (def when it cannot).
func sizeOfNote(body []byte, def int64) int64 {
	lines := strings.SplitN(string(body), "\n", 3)
	if len(lines) < 2 {
		return def
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return def
	}
	return n
}

func (s *Syncer) pushLoop(ctx context.Context) {
	b := backoff{min: s.opts.MinBackoff, max: s.opts.MaxBackoff}
	for ctx.Err() == nil {
		did, err := s.PushOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		if err != nil {
			s.status.PushFailures++
			s.status.LastError = err.Error()
		} else {
			s.status.PushFailures = 0
			if did {
				s.status.LastPush = time.Now()
			}
		}
		s.mu.Unlock()
		if err != nil {
			d := b.next()
			s.log.Warn().Err(err).Dur("retry_in", d).Msg("sync: sending reports failed")
			sleep(ctx, d, s.nudge)
			continue
		}
		b.reset()
		if !did {
			if _, err := s.q.Purge(ctx); err != nil {
				s.log.Error().Err(err).Msg("sync: purge failed")
			}
			sleep(ctx, s.opts.IdlePoll, s.q.outbox.wake)
		}
	}
}

// PushOnce sends one request's worth of outbox items. did reports whether
// there was anything to send.
func (s *Syncer) PushOnce(ctx context.Context) (did bool, err error) {
	o := s.q.outbox
	key, items, err := o.nextOutcomeBatch(ctx, s.opts.OutcomeBatch)
	if err != nil {
		return false, err
	}
	if len(items) > 0 {
		outs, err := decodeOutcomes(items)
		if err != nil {
			return true, err
		}
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Key
		}
		ans, err := s.c.PostOutcomes(ctx, key, outs)
		if err != nil {
			o.failed(ctx, keys, err)
			return true, err
		}
		accepted := ans.Accepted
		sent := map[string]bool{}
		for _, k := range keys {
			sent[k] = true
		}
		for _, r := range ans.Rejected {
			if !sent[r.Key] {
				continue
			}
			// Refused for good: sending it again cannot help. It is kept
			// (acknowledged, with the centre's reason) and said loudly.
			s.log.Error().Str("key", r.Key).Str("reason", r.Reason).Msg("sync: the centre refused an outcome for good; a person must look at this job")
			o.failed(ctx, []string{r.Key}, errors.New("refused by the centre: "+r.Reason))
			accepted = append(accepted, r.Key)
		}
		if err := o.ack(ctx, accepted); err != nil {
			return true, err
		}
		if len(accepted) < len(items) {
			s.log.Warn().Int("sent", len(items)).Int("accepted", len(accepted)).Msg("sync: centre accepted only part of the outcomes; the rest go again")
			return true, o.unbatch(ctx, key)
		}
		return true, nil
	}
	// A person's reports (a request for blanks, then the day's stock) go
	// before the checkpoints: someone waits for them, and they are small.
	for _, k := range []struct {
		kind string
		post func(ctx context.Context, key string, body []byte) (string, error)
	}{{KindBlankRequest, s.c.PostBlankRequest}, {KindStock, s.c.PostStock}} {
		it, err := o.next(ctx, k.kind)
		if err != nil {
			return false, err
		}
		if it == nil {
			continue
		}
		ref, err := k.post(ctx, it.Key, it.Body)
		var he *HTTPError
		if errors.As(err, &he) && refusedForGood(he) {
			// The centre's word on this report: sending it again cannot
			// help, and it must not hold back the reports behind it. It
			// is kept with the centre's reason, which the page shows to a
			// person (a request for blanks then asks for a new one).
			s.log.Error().Err(err).Str("kind", k.kind).Str("key", it.Key).Msg("sync: the centre refused a report for good; a person must look at it")
			o.failed(ctx, []string{it.Key}, err)
			return true, o.answered(ctx, it.Key, "", he.Body)
		}
		if err != nil {
			o.failed(ctx, []string{it.Key}, err)
			return true, err
		}
		return true, o.answered(ctx, it.Key, ref, "")
	}
	if it, err := o.next(ctx, KindCheckpoint); err != nil {
		return false, err
	} else if it != nil {
		cos, err := s.postCheckpoint(ctx, it.Body)
		var he *HTTPError
		if errors.As(err, &he) && he.Status == 409 && he.superseded {
			s.log.Warn().Str("key", it.Key).Int64("centre_size", he.LatestSize).Msg("sync: the centre already witnessed a later checkpoint; this older one is dropped")
			return true, o.ack(ctx, []string{it.Key})
		}
		if err != nil {
			o.failed(ctx, []string{it.Key}, err)
			return true, err
		}
		if s.opts.OnCheckpoint != nil {
			if err := s.opts.OnCheckpoint(ctx, it.Key, cos); err != nil {
				return true, err
			}
		}
		return true, o.ack(ctx, []string{it.Key})
	}
	return false, nil
}

// refusedForGood: the centre read the report and will not take it (a bad
// or forbidden report); other failures (outage, a centre that does not
// know the route yet) are tried again.
func refusedForGood(he *HTTPError) bool {
	switch he.Status {
	case 400, 403, 409, 422:
		return true
	}
	return false
}
