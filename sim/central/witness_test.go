package central_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/inventory"
	"printstation/sim/central"
)

const st = "ST-3201-01"

// memTree is a ledger's Merkle tree in memory: enough to sign checkpoints
// and prove them as a station would.
type memTree struct {
	hashes []tlog.Hash
	n      int64
}

func (m *memTree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = m.hashes[x]
	}
	return out, nil
}

func (m *memTree) add(t *testing.T, records ...string) {
	for _, r := range records {
		hs, err := tlog.StoredHashes(m.n, []byte(r), m)
		if err != nil {
			t.Fatal(err)
		}
		m.hashes = append(m.hashes, hs...)
		m.n++
	}
}

func (m *memTree) root(t *testing.T, n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, m)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (m *memTree) proof(t *testing.T, from, to int64) []string {
	p, err := tlog.ProveTree(to, from, m)
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, h := range p {
		out = append(out, base64.StdEncoding.EncodeToString(h[:]))
	}
	return out
}

func sign(t *testing.T, s note.Signer, n int64, h tlog.Hash) string {
	msg, err := note.Sign(&note.Note{Text: string(inventory.FormatCheckpoint(inventory.Origin(st), tlog.Tree{N: n, Hash: h}))}, s)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

func post(t *testing.T, s *central.Server, key string, v any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(v)
	code, body := do(t, s, "POST", "/v1/stations/"+st+"/checkpoints", key, string(b))
	var m map[string]any
	json.Unmarshal([]byte(body), &m)
	return code, m
}

// The centre cosigns a checkpoint only when it extends the last one it
// cosigned for the station: a fork (another tree of the same or a later
// size), a rollback and a forged key are refused with 409 or 400.
func TestWitnessRefusesForksAndRollbacks(t *testing.T) {
	s := newServer(t)
	skey, vkey, _ := note.GenerateKey(rand.Reader, "printstation/"+st)
	signer, _ := note.NewSigner(skey)
	var tree memTree
	tree.add(t, "e0", "e1", "e2")

	// Not enrolled: nothing is witnessed, and GET says so.
	if c, _ := post(t, s, "c0", map[string]any{"checkpoint": sign(t, signer, 3, tree.root(t, 3))}); c != 409 {
		t.Fatalf("checkpoint before enrolment: %d, want 409", c)
	}
	if c, _ := do(t, s, "GET", "/v1/stations/"+st+"/checkpoints/latest", "", ""); c != 404 {
		t.Fatalf("latest before enrolment: %d, want 404", c)
	}
	en, _ := json.Marshal(map[string]any{"epoch": 1, "vkey": vkey, "checkpoint": sign(t, signer, 3, tree.root(t, 3)), "actor": "printstationd", "reason": "first start"})
	if c, b := do(t, s, "POST", "/v1/stations/"+st+"/enrolment", "e1", string(en)); c != 200 {
		t.Fatalf("enrolment: %d %s", c, b)
	}

	// A fork of the same size: two different trees of 3 events.
	var fork memTree
	fork.add(t, "e0", "eX", "e2")
	if c, m := post(t, s, "f1", map[string]any{"checkpoint": sign(t, signer, 3, fork.root(t, 3))}); c != 409 || !strings.Contains(fmt.Sprint(m["error"]), "fork") || m["latest_size"] != 3.0 {
		t.Errorf("fork at the same size: %d %v", c, m)
	}
	// A fork that grows: its proof from 3 cannot verify.
	fork.add(t, "e3", "e4")
	if c, m := post(t, s, "f2", map[string]any{"checkpoint": sign(t, signer, 5, fork.root(t, 5)), "old_size": 3, "proof": fork.proof(t, 3, 5)}); c != 409 || !strings.Contains(fmt.Sprint(m["error"]), "does not extend") {
		t.Errorf("growing fork: %d %v", c, m)
	}
	// The honest extension, with its proof, is cosigned.
	tree.add(t, "e3", "e4")
	if c, m := post(t, s, "g1", map[string]any{"checkpoint": sign(t, signer, 5, tree.root(t, 5)), "old_size": 3, "proof": tree.proof(t, 3, 5)}); c != 200 || m["cosigned"] == nil {
		t.Fatalf("honest extension: %d %v", c, m)
	}
	// A proof from the wrong size is refused, saying which size to prove from.
	tree.add(t, "e5")
	if c, m := post(t, s, "g2", map[string]any{"checkpoint": sign(t, signer, 6, tree.root(t, 6)), "old_size": 3, "proof": tree.proof(t, 3, 6)}); c != 409 || m["latest_size"] != 5.0 {
		t.Errorf("proof from a stale size: %d %v", c, m)
	}
	// Rollback: a smaller tree, even an honest prefix.
	if c, m := post(t, s, "r1", map[string]any{"checkpoint": sign(t, signer, 4, tree.root(t, 4))}); c != 409 || !strings.Contains(fmt.Sprint(m["error"]), "rollback") {
		t.Errorf("rollback: %d %v", c, m)
	}
	// Another key (the enrolled one is pinned).
	sk2, _, _ := note.GenerateKey(rand.Reader, "printstation/"+st)
	other, _ := note.NewSigner(sk2)
	if c, _ := post(t, s, "k1", map[string]any{"checkpoint": sign(t, other, 6, tree.root(t, 6)), "old_size": 5, "proof": tree.proof(t, 5, 6)}); c != 400 {
		t.Errorf("checkpoint signed with another key: %d, want 400", c)
	}

	// GET answers the latest cosigned tree; the export lists both.
	c, body := do(t, s, "GET", "/v1/stations/"+st+"/checkpoints/latest", "", "")
	var latest struct {
		Epoch      int64
		Size       int64
		Root       string
		Checkpoint string
	}
	json.Unmarshal([]byte(body), &latest)
	if c != 200 || latest.Epoch != 1 || latest.Size != 5 || latest.Root != tree.root(t, 5).String() {
		t.Errorf("latest: %d %s", c, body)
	}
	exp := s.Export(st)
	if len(exp.Checkpoints) != 2 || exp.Checkpoints[1].Size != 5 || len(exp.Enrolments) != 1 || exp.WitnessKey != s.WitnessVerifierKey() {
		t.Errorf("export: %+v", exp)
	}
	// The record survives a restart of the centre.
	s.Close()
	s2, err := central.New(central.Options{Dir: s.Dir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if c, m := post(t, s2, "f3", map[string]any{"checkpoint": sign(t, signer, 5, fork.root(t, 5))}); c != 409 {
		t.Errorf("fork after the centre restarted: %d %v", c, m)
	}
	// A re-enrolment needs a person and a reason, and opens epoch 2.
	var fresh memTree
	fresh.add(t, "n0")
	en2 := map[string]any{"epoch": 2, "vkey": vkey, "checkpoint": sign(t, signer, 1, fresh.root(t, 1))}
	b, _ := json.Marshal(en2)
	if c, _ := do(t, s2, "POST", "/v1/stations/"+st+"/enrolment", "e2", string(b)); c != 400 {
		t.Errorf("re-enrolment without actor and reason: %d", c)
	}
	en2["actor"], en2["reason"] = "admin", "disk replaced"
	b, _ = json.Marshal(en2)
	if c, body := do(t, s2, "POST", "/v1/stations/"+st+"/enrolment", "e3", string(b)); c != 200 {
		t.Fatalf("re-enrolment: %d %s", c, body)
	}
	ens := s2.Enrolments(st)
	if len(ens) != 2 || ens[1].Epoch != 2 || ens[1].PrevSize != 5 || ens[1].Actor != "admin" {
		t.Errorf("enrolments: %+v", ens)
	}
}

// The centre never serves again a job it has a closing outcome for, and
// refuses a second closing outcome for it (a second card).
func TestCentreClosesJobs(t *testing.T) {
	s := newServer(t)
	ids, err := s.IssueJobs(st, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, body := do(t, s, "GET", "/v1/stations/"+st+"/jobs?cursor=0&max=10", "", "")
	var page struct{ Jobs []string }
	json.Unmarshal([]byte(body), &page)
	if len(page.Jobs) != 3 {
		t.Fatalf("first page: %d jobs", len(page.Jobs))
	}
	c, body := do(t, s, "POST", "/v1/stations/"+st+"/outcomes", "o1", `{"items":[{"key":"k1","job_id":"`+ids[0]+`","outcome":"printed"}]}`)
	if c != 200 || !strings.Contains(body, `"k1"`) {
		t.Fatalf("first outcome: %d %s", c, body)
	}
	// A station that lost its database asks from the start again.
	_, body = do(t, s, "GET", "/v1/stations/"+st+"/jobs?cursor=0&max=10", "", "")
	page.Jobs = nil
	json.Unmarshal([]byte(body), &page)
	if len(page.Jobs) != 2 {
		t.Errorf("after an outcome the feed from the start has %d jobs, want 2", len(page.Jobs))
	}
	c, body = do(t, s, "POST", "/v1/stations/"+st+"/outcomes", "o2", `{"items":[{"key":"k2","job_id":"`+ids[0]+`","outcome":"printed"}]}`)
	var ans struct {
		Accepted []string
		Rejected []struct{ Key, Reason string }
	}
	json.Unmarshal([]byte(body), &ans)
	if c != 200 || len(ans.Accepted) != 0 || len(ans.Rejected) != 1 || !strings.Contains(ans.Rejected[0].Reason, "already closed") {
		t.Errorf("second printed outcome for one job: %d %s", c, body)
	}
	n := 0
	for _, o := range s.Outcomes(st) {
		if o.Item.JobID == ids[0] && o.Item.Outcome == "printed" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("centre counts %d printed outcomes for %s", n, ids[0])
	}
}

// A refusal of a second envelope that reuses a job's id neither closes the
// job nor is refused: the job's own printed outcome still counts.
func TestDuplicateRefusalDoesNotCloseTheJob(t *testing.T) {
	s := newServer(t)
	ids, _ := s.IssueJobs(st, 1, 1)
	do(t, s, "POST", "/v1/stations/"+st+"/outcomes", "o1", `{"items":[{"key":"refused:ab","job_id":"`+ids[0]+`","outcome":"refused","reason":"duplicate: job id was already received"}]}`)
	_, body := do(t, s, "POST", "/v1/stations/"+st+"/outcomes", "o2", `{"items":[{"key":"k1","job_id":"`+ids[0]+`","outcome":"printed"}]}`)
	if !strings.Contains(body, `"accepted":["k1"]`) {
		t.Errorf("printed after a duplicate's refusal: %s", body)
	}
}
