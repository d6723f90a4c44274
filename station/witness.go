package station

// The start-up witness check: before the engine prints or pulls a job, the
// station asks the centre for the last checkpoint it cosigned for this
// station and checks that its database extends it. A database that does
// not (emptied, restored from a backup, rewritten) holds printing and says
// what to do: an admin re-enrols the station, explicitly and on the record
// at both ends. See docs/WITNESS.md.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
)

// witnessGate holds printing until the ledger is known to extend what the
// centre witnessed.
type witnessGate struct {
	mu     sync.Mutex
	state  string // "", checking, waiting (centre unreachable), held (refused), offline (released by a person), ok
	reason string
	poke   chan struct{}
	// released is a supervisor's recorded decision to print while the
	// centre cannot be asked (who and why); "" while nobody decided.
	released string
}

// WitnessState is what the local API and status show about the check.
type WitnessState struct {
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

func (g *witnessGate) set(state, reason string) {
	g.mu.Lock()
	g.state, g.reason = state, reason
	g.mu.Unlock()
}

// Witness reports the start-up check's state.
func (e *Engine) Witness() WitnessState {
	e.wit.mu.Lock()
	defer e.wit.mu.Unlock()
	return WitnessState{State: e.wit.state, Reason: e.wit.reason}
}

// witnessLine is the status line while printing is held ("" otherwise).
// ErrNoCentre: the station has no central server configured.
var ErrNoCentre = errors.New("no central server is configured (central.url)")

// CentreRecord asks the centre for its witness record of this station:
// every enrolment and cosigned checkpoint (inventory.VerifyOptions.Centre).
func (e *Engine) CentreRecord(ctx context.Context) (*inventory.CentreExport, error) {
	if e.central == nil {
		return nil, ErrNoCentre
	}
	b, err := e.central.WitnessRecord(ctx)
	if err != nil {
		return nil, err
	}
	var exp inventory.CentreExport
	if err := json.Unmarshal(b, &exp); err != nil {
		return nil, fmt.Errorf("the centre's witness record is not readable JSON: %w", err)
	}
	if exp.Station != e.cfg.StationID {
		return nil, fmt.Errorf("the centre answered with the record of station %q, this is %q", exp.Station, e.cfg.StationID)
	}
	return &exp, nil
}

func (e *Engine) witnessLine() string {
	w := e.Witness()
	switch w.State {
	case "held":
		return "held: " + w.Reason
	case "offline":
		return "offline start: " + w.Reason
	case "waiting", "checking":
		return "waiting: " + w.Reason
	}
	return ""
}

// errHeld marks a check that found the database does not extend the
// centre's record: retrying will not help, a person must act.
var errHeld = errors.New("printing held")

// AwaitWitness returns once the centre confirmed that this database extends
// the ledger it witnessed (at once when no centre is configured), or with
// an error when ctx ends or the engine drains first. Meanwhile it keeps the engine's heartbeat,
// so the watchdog sees a live daemon that is deliberately not printing.
func (e *Engine) AwaitWitness(ctx context.Context) error {
	if e.central == nil {
		e.wit.set("ok", "no central server configured")
		return nil
	}
	wait := time.Second
	for {
		e.beat.Store(time.Now().UnixNano())
		e.wit.set("checking", "asking the centre for the last checkpoint it witnessed for this station")
		err := e.checkWitness(ctx)
		if err == nil {
			e.wit.set("ok", "")
			e.log.Info().Msg("the centre's last witnessed checkpoint is in this ledger; printing may start")
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var d time.Duration
		if !errors.Is(err, errHeld) {
			e.wit.mu.Lock()
			released := e.wit.released
			e.wit.mu.Unlock()
			if released != "" {
				e.wit.set("offline", released+"; the check runs again as soon as the centre answers")
				e.log.Warn().Err(err).Msg("printing without the centre's confirmation of the ledger, released by a person; checked again when the centre answers")
				go e.recheckWitness(ctx)
				return nil
			}
		}
		if errors.Is(err, errHeld) {
			e.wit.set("held", err.Error())
			e.log.Error().Err(err).Msg("printing held: the ledger does not extend what the centre witnessed")
			d = time.Minute
		} else {
			e.wit.set("waiting", fmt.Sprintf("waiting for the centre to confirm this station's ledger before printing (%v)", err))
			e.log.Warn().Err(err).Dur("retry_in", wait).Msg("witness check: the centre did not answer")
			d = wait
			wait = min(2*wait, 30*time.Second)
		}
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			e.beat.Store(time.Now().UnixNano())
			if e.draining.Load() {
				return errors.New("stopping before the centre confirmed the ledger")
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-e.wit.poke:
				end = time.Now()
			case <-time.After(time.Second):
			}
		}
	}
}

// checkWitness compares the database with the centre's last witnessed
// checkpoint. It enrols a station the centre has never seen, when its
// ledger was never enrolled either (the first start). An error wrapping
// errHeld means the database must not print.
func (e *Engine) checkWitness(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	local, err := e.ledger.Epoch(cctx)
	if err != nil {
		return fmt.Errorf("%w: %v", errHeld, err)
	}
	w, err := e.central.LatestCheckpoint(cctx)
	if errors.Is(err, jobqueue.ErrNotEnrolled) {
		if local > 1 {
			return fmt.Errorf("%w: the centre has no enrolment for this station, but this ledger was enrolled (epoch %d): ask the centre's operators before printing", errHeld, local)
		}
		// First start (local 0), or a first enrolment the centre did not
		// record (local 1): enrol now.
		_, err := e.enrol(ctx, 0, jobqueue.Witnessed{}, local, e.ec.Actor, "first start of this station")
		return err
	}
	var he *jobqueue.HTTPError
	if errors.As(err, &he) && !he.Temporary() {
		return fmt.Errorf("%w: the centre refused to say what it witnessed: %v", errHeld, err)
	}
	if err != nil {
		return err
	}
	root, err := e.checkWitnessed(w)
	if err != nil {
		return fmt.Errorf("%w: %v", errHeld, err)
	}
	what := fmt.Sprintf("the centre witnessed %d events of this station's ledger (enrolment epoch %d); this database is at epoch %d", w.Size, w.Epoch, local)
	switch {
	case local == w.Epoch:
		if err := e.ledger.Extends(cctx, w.Size, root); err != nil {
			return fmt.Errorf("%w: %v. %s. %s", errHeld, err, what, reenrolAdvice)
		}
		return nil
	case local == w.Epoch+1:
		// This ledger recorded a re-enrolment the centre did not confirm
		// (the link failed): an admin asked for it, so finish it.
		_, err := e.enrol(ctx, w.Epoch, w, local, "", "")
		return err
	case local == 0:
		return fmt.Errorf("%w: this database has never been enrolled but %s: it is empty or new. %s", errHeld, what, reenrolAdvice)
	default:
		return fmt.Errorf("%w: %s: it is an old or foreign copy. %s", errHeld, what, reenrolAdvice)
	}
}

const reenrolAdvice = "Do not print from this database. If the loss is understood, an admin re-enrols the station (printstationctl enrol --reason \"...\", signed in as an admin: --user ADMIN); the centre records it and holds the jobs whose outcome it never received"

// checkWitnessed checks the centre's answer: its note is this station's,
// signed by this station's key (and the centre's, when pinned), and says
// what the answer says.
func (e *Engine) checkWitnessed(w jobqueue.Witnessed) (tlog.Hash, error) {
	vs := []note.Verifier{}
	if v := e.ledger.Verifier(); v != nil {
		vs = append(vs, v)
	}
	var centre note.Verifier
	if k := e.config().Central.WitnessKey; k != "" {
		v, err := note.NewVerifier(k)
		if err != nil {
			return tlog.Hash{}, fmt.Errorf("central.witness_key: %w", err)
		}
		centre = v
		vs = append(vs, v)
	}
	n, err := note.Open([]byte(w.Checkpoint), note.VerifierList(vs...))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("the centre's last witnessed checkpoint does not verify with this station's key: %v (the centre pinned key %q)", err, w.VKey)
	}
	if centre != nil {
		ok := false
		for _, s := range n.Sigs {
			ok = ok || (s.Name == centre.Name() && s.Hash == centre.KeyHash())
		}
		if !ok {
			return tlog.Hash{}, errors.New("the centre's last witnessed checkpoint carries no valid centre signature")
		}
	}
	origin, t, err := inventory.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return tlog.Hash{}, err
	}
	if origin != inventory.Origin(e.cfg.StationID) || t.N != w.Size {
		return tlog.Hash{}, fmt.Errorf("the centre's answer (size %d) does not match its note (%q size %d)", w.Size, origin, t.N)
	}
	return t.Hash, nil
}

// enrol opens enrolment epoch centreEpoch+1: it records the enrolment in
// the ledger (unless the ledger already did, localEpoch = centreEpoch+1),
// signs a checkpoint and has the centre cosign it.
func (e *Engine) enrol(ctx context.Context, centreEpoch int64, w jobqueue.Witnessed, localEpoch int64, actor, reason string) (jobqueue.EnrolAnswer, error) {
	epoch := centreEpoch + 1
	var cp inventory.Checkpoint
	var err error
	if localEpoch < epoch {
		var prev tlog.Hash
		if w.Size > 0 {
			b, err := base64.StdEncoding.DecodeString(w.Root)
			if err != nil || len(b) != tlog.HashSize {
				return jobqueue.EnrolAnswer{}, fmt.Errorf("%w: the centre's root %q is not a tree hash", errHeld, w.Root)
			}
			copy(prev[:], b)
		}
		cp, err = e.ledger.Enrol(ctx, actor, reason, epoch, w.Size, prev)
	} else {
		cp, err = e.ledger.Checkpoint(ctx, e.db)
	}
	if err != nil {
		return jobqueue.EnrolAnswer{}, fmt.Errorf("%w: recording the enrolment in the ledger: %v", errHeld, err)
	}
	if actor == "" {
		actor, reason = e.enrolmentOf(ctx, epoch)
	}
	ans, err := e.central.Enrol(ctx, fmt.Sprintf("enrol/%s/%d/%d", e.cfg.StationID, epoch, cp.Size),
		jobqueue.Enrolment{Epoch: epoch, VKey: e.ledger.VerifierKey(), Checkpoint: string(cp.Note), Actor: actor, Reason: reason})
	var he *jobqueue.HTTPError
	if errors.As(err, &he) && !he.Temporary() {
		return ans, fmt.Errorf("%w: the centre refused the enrolment: %v", errHeld, err)
	}
	if err != nil {
		return ans, err
	}
	if err := e.ledger.StoreCosigned(ctx, []byte(ans.Cosigned)); err != nil {
		return ans, fmt.Errorf("%w: the centre's cosigned enrolment checkpoint: %v", errHeld, err)
	}
	e.log.Warn().Int64("epoch", epoch).Int("jobs_in_question", len(ans.JobsInQuestion)).Str("actor", actor).Msg("station enrolled with the centre")
	return ans, nil
}

// enrolmentOf reads back who recorded enrolment epoch and why.
func (e *Engine) enrolmentOf(ctx context.Context, epoch int64) (actor, reason string) {
	rows, err := e.db.QueryContext(ctx, `SELECT data FROM ledger_events WHERE kind = ? ORDER BY seq DESC`, string(inventory.Enrolled))
	if err != nil {
		return e.ec.Actor, ""
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if rows.Scan(&b) != nil {
			break
		}
		if en, err := inventory.ParseEntry(b); err == nil && en.Epoch == epoch {
			return en.Actor, en.Reason
		}
	}
	return e.ec.Actor, ""
}

// Reenrol is an admin's explicit re-enrolment of a station whose database
// does not extend what the centre witnessed. It is refused when the check
// passes (nothing to re-enrol). On success printing is released.
func (e *Engine) Reenrol(ctx context.Context, actor, reason string) (jobqueue.EnrolAnswer, error) {
	if e.central == nil {
		return jobqueue.EnrolAnswer{}, errors.New("no central server is configured: there is nothing to enrol with")
	}
	actor, reason = strings.TrimSpace(actor), strings.TrimSpace(reason)
	if actor == "" || reason == "" {
		return jobqueue.EnrolAnswer{}, errors.New("a re-enrolment needs the admin's name (--actor) and the reason (--reason); both are recorded by the station and the centre")
	}
	err := e.checkWitness(ctx)
	if err == nil {
		e.pokeWitness()
		return jobqueue.EnrolAnswer{}, errors.New("this station's ledger extends what the centre witnessed: no re-enrolment is needed")
	}
	if !errors.Is(err, errHeld) {
		return jobqueue.EnrolAnswer{}, fmt.Errorf("the centre cannot be asked now: %w", err)
	}
	w, err := e.central.LatestCheckpoint(ctx)
	if err != nil {
		return jobqueue.EnrolAnswer{}, err
	}
	local, err := e.ledger.Epoch(ctx)
	if err != nil {
		return jobqueue.EnrolAnswer{}, err
	}
	if local > w.Epoch {
		return jobqueue.EnrolAnswer{}, fmt.Errorf("this ledger is at epoch %d, ahead of the centre's %d: ask the centre's operators", local, w.Epoch)
	}
	ans, err := e.enrol(ctx, w.Epoch, w, local, actor, reason)
	if err != nil {
		return ans, err
	}
	// The enrolment is witnessed: this database extends the centre's
	// record now (also when it was held after an offline start, where no
	// start-up check loops any more).
	e.wit.set("ok", "")
	e.pokeWitness()
	return ans, nil
}

// ReleaseOffline is a supervisor's recorded decision to print while the
// centre cannot be asked whether this database extends what it witnessed:
// a station restarted in an outage (a power cut, the usual case) would
// otherwise print nothing until the link is back, for a whole day. It is
// refused unless the check is waiting for an unreachable centre: a
// database the centre has refused stays held. The check runs again as soon
// as the centre answers, and a database found not to extend the centre's
// record then stops feeding blanks at once.
func (e *Engine) ReleaseOffline(actor, reason string) error {
	actor, reason = strings.TrimSpace(actor), strings.TrimSpace(reason)
	if actor == "" || reason == "" {
		return errors.New("printing without the centre needs the supervisor's name and a reason (--reason); both are recorded in the ledger")
	}
	e.wit.mu.Lock()
	state := e.wit.state
	if state == "waiting" || state == "checking" {
		e.wit.released = fmt.Sprintf("released by %s without the centre: %s", actor, reason)
	}
	e.wit.mu.Unlock()
	if state != "waiting" && state != "checking" {
		return fmt.Errorf("printing is not waiting for the centre (the check is %q): nothing to release", state)
	}
	e.pokeWitness()
	return nil
}

// recheckWitness runs the start-up check again after an offline release
// until the centre answers: it either confirms the ledger (printing goes
// on, checkpoints flow) or holds it (no further blank is fed; an admin
// re-enrols).
func (e *Engine) recheckWitness(ctx context.Context) {
	wait := time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if e.Witness().State != "offline" {
			return
		}
		err := e.checkWitness(ctx)
		switch {
		case err == nil:
			e.wit.set("ok", "")
			e.log.Info().Msg("the centre answered: its last witnessed checkpoint is in this ledger")
			return
		case errors.Is(err, errHeld):
			e.wit.set("held", err.Error())
			e.log.Error().Err(err).Msg("printing held after an offline start: the ledger does not extend what the centre witnessed")
			return
		}
		wait = min(2*wait, 30*time.Second)
	}
}

func (e *Engine) pokeWitness() {
	select {
	case e.wit.poke <- struct{}{}:
	default:
	}
}

// checkpointByTime signs a checkpoint when events wait unsigned longer than
// engine.checkpoint_minutes, so the tail the centre has not witnessed stays
// short while the station is quiet.
func (e *Engine) checkpointByTime(ctx context.Context) {
	if e.central == nil || e.Witness().State != "ok" {
		return
	}
	age := time.Duration(e.config().Engine.CheckpointMinutes) * time.Minute
	if age <= 0 {
		return
	}
	if _, err := e.ledger.CheckpointIfOlder(ctx, age); err != nil {
		e.log.Warn().Err(err).Msg("checkpoint by time failed; will retry")
	}
}

// VerifyLive runs audit verify on the station's own database, with the
// centre's key and, when the centre answers, its witness record: what the
// auditor's page shows, for tools on the socket. centreErr says why the
// centre's record was not compared (nil when it was).
func (e *Engine) VerifyLive(ctx context.Context) (rep *inventory.VerifyReport, centreErr error, err error) {
	var opt inventory.VerifyOptions
	if k := e.config().Central.WitnessKey; k != "" {
		if opt.CentreKey, err = note.NewVerifier(k); err != nil {
			return nil, nil, fmt.Errorf("central.witness_key: %w", err)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	opt.Centre, centreErr = e.CentreRecord(cctx)
	cancel()
	rep, err = inventory.Verify(ctx, e.db, opt)
	return rep, centreErr, err
}

func (e *Engine) witnessRoutes(mux *http.ServeMux, acc *accounts.Store) {
	mux.HandleFunc("GET /v1/audit/verify", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.AuditRead); !ok {
			return
		}
		rep, centreErr, err := e.VerifyLive(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		out := map[string]any{"pass": rep.OK(), "report": rep, "centre_compared": centreErr == nil}
		if centreErr != nil {
			out["centre_error"] = centreErr.Error()
		}
		writeJSON(w, 200, out)
	})
	mux.HandleFunc("GET /v1/witness", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.View); !ok {
			return
		}
		writeJSON(w, 200, e.Witness())
	})
	mux.HandleFunc("POST /v1/witness/release", func(w http.ResponseWriter, r *http.Request) {
		c, reason, ok := reasonedCall(w, r, accounts.OfflineStart, "offline_start")
		if !ok {
			return
		}
		if err := e.ReleaseOffline(c.Name, reason); err != nil {
			writeErr(w, 409, err)
			return
		}
		if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
			Action: "offline_start", Reason: reason}); err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, map[string]string{"action": "offline_start", "by": c.Name})
	})
	mux.HandleFunc("POST /v1/enrolment", func(w http.ResponseWriter, r *http.Request) {
		c, reason, ok := reasonedCall(w, r, accounts.LedgerEnrol, "enrol")
		if !ok {
			return
		}
		ans, err := e.Reenrol(r.Context(), c.Name, reason)
		if err != nil {
			writeErr(w, 409, err)
			return
		}
		writeJSON(w, 200, map[string]any{"epoch": ans.Epoch, "jobs_in_question": ans.JobsInQuestion})
	})
}

// witnessAtShutdown gives the centre the shutdown checkpoint before the
// daemon exits (a few seconds at most), so that what happened up to the
// stop is witnessed and a database restored or deleted while the station
// is off cannot hide it.
func (e *Engine) witnessAtShutdown(ctx context.Context) {
	if e.syncer == nil || e.Witness().State != "ok" {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		did, err := e.syncer.PushOnce(ctx)
		if err != nil {
			e.log.Warn().Err(err).Msg("the shutdown checkpoint did not reach the centre; it goes at the next start")
			return
		}
		if !did {
			return
		}
	}
}
