package central

// The witness: per station, the pinned ledger key, the enrolment epoch and
// the last tree cosigned. A checkpoint is cosigned only when it extends that
// tree, proven by a consistency proof (golang.org/x/mod/sumdb/tlog); a
// smaller tree (rollback) or a different tree of the same or a later size
// (fork) is refused with 409 and the size the centre holds. See
// api/openapi.yaml and docs/WITNESS.md for the protocol.

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/inventory"
)

// witnessState is what the centre holds for one station.
type witnessState struct {
	VKey  string    `json:"vkey"`
	Epoch int64     `json:"epoch"`
	Size  int64     `json:"size"`
	Root  tlog.Hash `json:"root"`
	Note  string    `json:"note"`
}

// conflict is a refusal that tells the station what the centre holds.
type conflict struct {
	msg    string
	epoch  int64
	size   int64
	status int
}

func (c *conflict) Error() string { return c.msg }

func refuseConflict(st *witnessState, format string, a ...any) *conflict {
	c := &conflict{msg: fmt.Sprintf(format, a...), status: http.StatusConflict}
	if st != nil {
		c.epoch, c.size = st.Epoch, st.Size
	}
	return c
}

func writeConflict(w http.ResponseWriter, c *conflict) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(c.status)
	json.NewEncoder(w).Encode(map[string]any{"latest_size": c.size, "epoch": c.epoch, "error": c.msg})
}

// openStationNote verifies a checkpoint note with the station's pinned key
// and parses it; origin must be the station's.
func openStationNote(station, vkey, msg string) (*note.Note, tlog.Tree, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("station key %q is not a note verifier key: %v", vkey, err)
	}
	n, err := note.Open([]byte(msg), note.VerifierList(v))
	if err != nil {
		return nil, tlog.Tree{}, fmt.Errorf("checkpoint is not signed by the station's enrolled key %s: %v", v.Name(), err)
	}
	origin, t, err := inventory.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, tlog.Tree{}, err
	}
	if origin != inventory.Origin(station) {
		return nil, tlog.Tree{}, fmt.Errorf("checkpoint origin %q is not station %s's %q", origin, station, inventory.Origin(station))
	}
	return n, t, nil
}

func (s *Server) cosignLocked(station string, epoch int64, n *note.Note, t tlog.Tree) (string, error) {
	out, err := note.Sign(n, s.witness)
	if err != nil {
		return "", fmt.Errorf("cosign: %v", err)
	}
	st := s.witnessed[station]
	st.Size, st.Root, st.Note = t.N, t.Hash, string(out)
	rec := inventory.CentreCheckpoint{Epoch: epoch, Size: t.N, Root: t.Hash.String(), Checkpoint: string(out), At: s.opts.Now().UTC()}
	s.cosigned[station] = append(s.cosigned[station], rec)
	s.logLocked(logRec{Station: station, Cosigned: &rec})
	return string(out), nil
}

// handleCheckpoint cosigns a checkpoint that extends the last one cosigned.
func (s *Server) handleCheckpoint(station string, body []byte) (any, int, error) {
	var req struct {
		Checkpoint string   `json:"checkpoint"`
		OldSize    int64    `json:"old_size"`
		Proof      []string `json:"proof"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Checkpoint == "" {
		return nil, http.StatusBadRequest, errors.New(`body is not {"checkpoint": "<signed note>", "old_size": n, "proof": ["<base64 hash>", ...]}`)
	}
	if len(req.Proof) > 128 {
		return nil, http.StatusBadRequest, fmt.Errorf("proof has %d hashes; a consistency proof has at most 2·63", len(req.Proof))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.witnessed[station]
	if st == nil {
		return nil, 0, refuseConflict(nil, "station %s is not enrolled: it enrols (POST /v1/stations/%s/enrolment) before its checkpoints are witnessed", station, station)
	}
	n, t, err := openStationNote(station, st.VKey, req.Checkpoint)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	switch {
	case t.N < st.Size:
		return nil, 0, refuseConflict(st, "rollback refused: this checkpoint covers %d events, the centre already witnessed %d for station %s (epoch %d)", t.N, st.Size, station, st.Epoch)
	case t.N == st.Size:
		if t.Hash != st.Root {
			return nil, 0, refuseConflict(st, "fork refused: a different tree of the same size %d was already witnessed for station %s (root %s, this one %s)", t.N, station, st.Root, t.Hash)
		}
		if st.Note != "" {
			return map[string]string{"cosigned": st.Note}, 0, nil // the same tree again
		}
	case st.Size > 0:
		if req.OldSize != st.Size {
			return nil, 0, refuseConflict(st, "the proof must start at size %d, the last tree witnessed for station %s, not %d", st.Size, station, req.OldSize)
		}
		proof := make(tlog.TreeProof, len(req.Proof))
		for i, p := range req.Proof {
			b, err := base64.StdEncoding.DecodeString(p)
			if err != nil || len(b) != tlog.HashSize {
				return nil, http.StatusBadRequest, fmt.Errorf("proof hash %d is not %d bytes of base64", i, tlog.HashSize)
			}
			copy(proof[i][:], b)
		}
		if err := tlog.CheckTree(proof, t.N, t.Hash, st.Size, st.Root); err != nil {
			return nil, 0, refuseConflict(st, "fork refused: the checkpoint at size %d does not extend the tree of size %d witnessed for station %s: %v", t.N, st.Size, station, err)
		}
	}
	out, err := s.cosignLocked(station, st.Epoch, n, t)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return map[string]string{"cosigned": out}, 0, nil
}

// handleEnrolment opens an enrolment epoch: the first one pins the
// station's key; a later one is an admin's explicit re-enrolment after the
// station lost or replaced its database. Either way the new epoch starts
// at the checkpoint sent with it, and the centre records which jobs it
// served that have no outcome: those are in question and not served again.
func (s *Server) handleEnrolment(station string, body []byte) (any, int, error) {
	var req struct {
		Epoch      int64  `json:"epoch"`
		VKey       string `json:"vkey"`
		Checkpoint string `json:"checkpoint"`
		Actor      string `json:"actor"`
		Reason     string `json:"reason"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Checkpoint == "" || req.VKey == "" {
		return nil, http.StatusBadRequest, errors.New(`body is not {"epoch": n, "vkey": "...", "checkpoint": "<signed note>", "actor": "...", "reason": "..."}`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.witnessed[station]
	var cur int64
	if st != nil {
		cur = st.Epoch
	}
	if req.Epoch != cur+1 {
		return nil, 0, refuseConflict(st, "enrolment epoch %d refused: station %s is at epoch %d, the next is %d", req.Epoch, station, cur, cur+1)
	}
	if cur > 0 && (strings.TrimSpace(req.Actor) == "" || strings.TrimSpace(req.Reason) == "") {
		return nil, http.StatusBadRequest, fmt.Errorf("re-enrolment of station %s must name the admin (actor) and the reason", station)
	}
	if v, err := note.NewVerifier(req.VKey); err != nil || v.Name() != "printstation/"+station {
		return nil, http.StatusBadRequest, fmt.Errorf("vkey is not a note verifier key named printstation/%s", station)
	}
	n, t, err := openStationNote(station, req.VKey, req.Checkpoint)
	if err != nil {
		return nil, http.StatusBadRequest, err
	}
	en := inventory.CentreEnrolment{Epoch: req.Epoch, VKey: req.VKey, Actor: req.Actor, Reason: req.Reason, At: s.opts.Now().UTC(), JobsInQuestion: []string{}}
	if st != nil {
		en.PrevSize = st.Size
		if st.Size > 0 {
			en.PrevRoot = st.Root.String()
		}
		en.JobsInQuestion = s.openJobsLocked(station)
	}
	s.applyEnrolmentLocked(station, en)
	s.logLocked(logRec{Station: station, Enrolment: &en})
	out, err := s.cosignLocked(station, req.Epoch, n, t)
	if err != nil {
		return nil, http.StatusInternalServerError, err
	}
	return map[string]any{"cosigned": out, "epoch": req.Epoch, "jobs_in_question": en.JobsInQuestion}, 0, nil
}

func (s *Server) applyEnrolmentLocked(station string, en inventory.CentreEnrolment) {
	s.witnessed[station] = &witnessState{VKey: en.VKey, Epoch: en.Epoch}
	s.enrolments[station] = append(s.enrolments[station], en)
	for _, j := range en.JobsInQuestion {
		s.held(station)[j] = true
	}
}

// openJobsLocked lists the jobs served to the station with no closing
// outcome: after a re-enrolment nobody knows whether they were printed.
func (s *Server) openJobsLocked(station string) []string {
	out := []string{}
	st := s.station(station)
	for _, e := range st.feed {
		if e.Revoked || e.Faulty || e.Seq > st.served {
			continue
		}
		if _, closed := s.closed(station)[e.JobID]; !closed && !s.held(station)[e.JobID] {
			out = append(out, e.JobID)
		}
	}
	return out
}

func (s *Server) closed(station string) map[string]string {
	m := s.closedJobs[station]
	if m == nil {
		m = map[string]string{}
		s.closedJobs[station] = m
	}
	return m
}

func (s *Server) held(station string) map[string]bool {
	m := s.heldJobs[station]
	if m == nil {
		m = map[string]bool{}
		s.heldJobs[station] = m
	}
	return m
}

// closingOutcomes end a job at the centre: a later outcome with a new key
// for the same job is refused (a second card, or a station that started
// over), and the job is never served again.
var closingOutcomes = map[string]bool{"printed": true, "uncertain_resolved": true, "cancelled": true, "refused": true, "failed": true, "revoked": true}

func (s *Server) handleLatest(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	s.mu.Lock()
	st := s.witnessed[station]
	var body map[string]any
	if st != nil {
		body = map[string]any{"epoch": st.Epoch, "size": st.Size, "root": st.Root.String(), "checkpoint": st.Note, "vkey": st.VKey}
	}
	s.mu.Unlock()
	if st == nil {
		httpError(w, http.StatusNotFound, "station %s is not enrolled", station)
		return
	}
	writeJSON(w, body)
}

// Export is the centre's witness record for a station, for auditors.
func (s *Server) Export(station string) inventory.CentreExport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return inventory.CentreExport{Station: station, WitnessKey: s.wvkey,
		Enrolments:  append([]inventory.CentreEnrolment{}, s.enrolments[station]...),
		Checkpoints: append([]inventory.CentreCheckpoint{}, s.cosigned[station]...)}
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	station := r.PathValue("station")
	if station == "" {
		station = r.URL.Query().Get("station")
	}
	if !validID(station) {
		httpError(w, http.StatusBadRequest, "bad station id %q", station)
		return
	}
	writeJSON(w, s.Export(station))
}

// Enrolments returns the station's enrolments as the centre recorded them.
func (s *Server) Enrolments(station string) []inventory.CentreEnrolment {
	return s.Export(station).Enrolments
}

// Dir is the directory holding the centre's keys and state.
func (s *Server) Dir() string { return s.opts.Dir }
