package jobqueue_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"printstation/jobqueue"
	"printstation/sim/central"
)

// outcomes returns the outbox's outcome items as the centre would get them.
func outcomes(t *testing.T, f *fixture) []jobqueue.OutcomeItem {
	t.Helper()
	rows, err := f.q.DB().QueryContext(f.ctx, `SELECT body FROM outbox_items WHERE kind = 'outcome' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []jobqueue.OutcomeItem
	for rows.Next() {
		var b []byte
		rows.Scan(&b)
		var o jobqueue.OutcomeItem
		if err := json.Unmarshal(b, &o); err != nil {
			t.Fatal(err)
		}
		out = append(out, o)
	}
	return out
}

func TestRefusals(t *testing.T) {
	type tc struct {
		name   string
		make   func(f *fixture) string
		code   jobqueue.Code
		before func(f *fixture)
		jobID  string // the job the refusal names, when it must name one
	}
	other := seedKey(2)
	cases := []tc{
		{name: "garbage", code: jobqueue.CodeMalformed, make: func(f *fixture) string { return "not.a.jws" }},
		{name: "too large", code: jobqueue.CodeTooLarge, make: func(f *fixture) string { return strings.Repeat("a", 600<<10) }},
		{name: "unknown kid", code: jobqueue.CodeUnknownKey, jobID: "J-3201-000001", make: func(f *fixture) string {
			s, _ := central.Sign(other, "issuer-2030-1", f.spec(1).Payload())
			return s
		}},
		{name: "wrong signature", code: jobqueue.CodeBadSignature, jobID: "J-3201-000001", make: func(f *fixture) string {
			s, _ := central.Sign(other, f.kid, f.spec(1).Payload())
			return s
		}},
		{name: "tampered payload", code: jobqueue.CodeBadSignature, jobID: "J-3201-000002", make: func(f *fixture) string {
			var env map[string]string
			if err := json.Unmarshal([]byte(f.sign(t, f.spec(1).Payload())), &env); err != nil {
				t.Fatal(err)
			}
			raw, _ := json.Marshal(f.spec(2).Payload())
			env["payload"] = string(raw)
			b, _ := json.Marshal(env)
			return string(b)
		}},
		{name: "tampered compact payload", code: jobqueue.CodeBadSignature, jobID: "J-3201-000002", make: func(f *fixture) string {
			raw, _ := json.Marshal(f.spec(1).Payload())
			s, _ := central.SignCompact(f.key, f.kid, raw)
			parts := strings.Split(s, ".")
			raw, _ = json.Marshal(f.spec(2).Payload())
			return parts[0] + "." + b64(raw) + "." + parts[2]
		}},
		{name: "json form with an encoded payload", code: jobqueue.CodeMalformed, make: func(f *fixture) string {
			// A header without "b64": false: the payload member would be
			// base64url, which this form never carries.
			raw, _ := json.Marshal(f.spec(1).Payload())
			s, _ := central.SignCompact(f.key, f.kid, raw)
			parts := strings.Split(s, ".")
			b, _ := json.Marshal(map[string]string{"protected": parts[0], "payload": string(raw), "signature": parts[2]})
			return string(b)
		}},
		{name: "json form with an extra member", code: jobqueue.CodeMalformed, make: func(f *fixture) string {
			var env map[string]string
			json.Unmarshal([]byte(f.sign(t, f.spec(1).Payload())), &env)
			env["header"] = "x"
			b, _ := json.Marshal(env)
			return string(b)
		}},
		{name: "other station", code: jobqueue.CodeWrongStation, make: func(f *fixture) string {
			s := f.spec(1)
			s.Station = "ST-3273-02"
			return f.sign(t, s.Payload())
		}},
		{name: "expired", code: jobqueue.CodeExpired, make: func(f *fixture) string {
			s := f.spec(1)
			s.Issued = t0.Add(-40 * 24 * time.Hour)
			return f.sign(t, s.Payload())
		}},
		{name: "not yet valid", code: jobqueue.CodeNotYetValid, make: func(f *fixture) string {
			s := f.spec(1)
			s.Issued = t0.Add(time.Hour)
			return f.sign(t, s.Payload())
		}},
		{name: "duplicate id", code: jobqueue.CodeDuplicate, before: func(f *fixture) { f.add(t, 1) }, make: func(f *fixture) string {
			s := f.spec(1)
			s.Seed = 99 // same id, other person: must not replace the first
			return f.sign(t, s.Payload())
		}},
		{name: "reprint without reprint_of", code: jobqueue.CodeBadKind, make: func(f *fixture) string {
			s := f.spec(1)
			s.Kind = jobqueue.KindReprint
			return f.sign(t, s.Payload())
		}},
		{name: "issue naming reprint_of", code: jobqueue.CodeBadKind, make: func(f *fixture) string {
			s := f.spec(1)
			s.ReprintOf = "J-3201-000000"
			return f.sign(t, s.Payload())
		}},
		{name: "unknown kind", code: jobqueue.CodeBadKind, make: func(f *fixture) string {
			s := f.spec(1)
			s.Kind = "duplicate"
			return f.sign(t, s.Payload())
		}},
		{name: "photo too large", code: jobqueue.CodePhotoTooLarge, make: func(f *fixture) string {
			p := f.spec(1).Payload()
			p.Photo = bytes.Repeat([]byte{0x89}, 200<<10)
			return f.sign(t, p)
		}},
		{name: "chip too large", code: jobqueue.CodeChipTooLarge, make: func(f *fixture) string {
			p := f.spec(1).Payload()
			p.Chip.Files = append(p.Chip.Files, jobqueue.ChipFile{FID: "0105", Data: make([]byte, 40<<10)})
			return f.sign(t, p)
		}},
		{name: "bad chip fid", code: jobqueue.CodeMalformed, make: func(f *fixture) string {
			p := f.spec(1).Payload()
			p.Chip.Files[0].FID = "XYZ"
			return f.sign(t, p)
		}},
		{name: "payload not job json", code: jobqueue.CodeMalformed, make: func(f *fixture) string {
			s, _ := central.SignRaw(f.key, f.kid, []byte(`{"job_id":"J-1","fields":"nama BUDI"}`))
			return s
		}},
		{name: "revoked before arrival", code: jobqueue.CodeRevoked, before: func(f *fixture) {
			if r, err := f.q.Revoke(f.ctx, "J-3201-000001", "test"); err != nil || r != jobqueue.RevokePending {
				t.Fatalf("revoke: %v %v", r, err)
			}
		}, make: func(f *fixture) string { return f.sign(t, f.spec(1).Payload()) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.before != nil {
				c.before(f)
			}
			before := len(outcomes(t, f))
			_, err := f.q.Add(f.ctx, c.make(f))
			var ref *jobqueue.Refusal
			if !errors.As(err, &ref) {
				t.Fatalf("Add: got %v, want a refusal", err)
			}
			if !errors.Is(err, jobqueue.ErrRefused) {
				t.Error("refusal does not match ErrRefused")
			}
			if ref.Code != c.code {
				t.Errorf("code = %s (%s), want %s", ref.Code, ref.Reason, c.code)
			}
			if ref.Reason == "" {
				t.Error("refusal has no reason")
			}
			if c.jobID != "" && ref.JobID != c.jobID {
				t.Errorf("refusal names job %q, want %q (read from the unverified payload)", ref.JobID, c.jobID)
			}
			// Never printable.
			q, err := f.q.Jobs(f.ctx, "", jobqueue.Queued, jobqueue.Received)
			if err != nil {
				t.Fatal(err)
			}
			if c.before == nil && len(q) != 0 {
				t.Errorf("refused job is in the queue: %+v", q)
			}
			if c.code == jobqueue.CodeDuplicate {
				j, err := f.q.Load(f.ctx, "J-3201-000001")
				if err != nil {
					t.Fatal(err)
				}
				if j.Fields["nik"] != central.NewPerson(1, nil).Fields["nik"] {
					t.Error("duplicate replaced the first job's data")
				}
			}
			// Reported.
			outs := outcomes(t, f)
			if len(outs) != before+1 {
				t.Fatalf("outbox has %d new outcomes, want 1", len(outs)-before)
			}
			o := outs[len(outs)-1]
			want := "refused"
			if c.code == jobqueue.CodeRevoked {
				want = "revoked"
			}
			if o.Outcome != want || (want == "refused" && !strings.Contains(o.Reason, string(c.code))) {
				t.Errorf("reported %+v, want outcome %s with code %s", o, want, c.code)
			}
			if c.code != jobqueue.CodeMalformed && c.code != jobqueue.CodeTooLarge && !strings.HasPrefix(c.name, "tampered") && o.JobID != "J-3201-000001" {
				t.Errorf("report names job %q", o.JobID)
			}
		})
	}
}

func b64(b []byte) string {
	return strings.TrimRight(strings.NewReplacer("+", "-", "/", "_").Replace(base64Std(b)), "=")
}

func TestClockSkewAllowed(t *testing.T) {
	f := newFixture(t)
	s := f.spec(1)
	s.Issued = t0.Add(2 * time.Minute) // station clock slightly behind
	if _, err := f.q.Add(f.ctx, f.sign(t, s.Payload())); err != nil {
		t.Fatalf("job valid within the clock skew allowance refused: %v", err)
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	s := f.spec(1)
	s.KID = "issuer-2025-9"
	p, err := central.Sign(seedKey(9), "issuer-2025-9", s.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.q.Add(f.ctx, p); err != nil {
		t.Fatalf("job signed with the older pinned key refused: %v", err)
	}
}

func TestReprintAccepted(t *testing.T) {
	f := newFixture(t)
	f.add(t, 1)
	s := f.spec(2)
	s.Kind, s.ReprintOf = jobqueue.KindReprint, "J-3201-000001"
	m, err := f.q.Add(f.ctx, f.sign(t, s.Payload()))
	if err != nil {
		t.Fatal(err)
	}
	if m.Kind != jobqueue.KindReprint || m.ReprintOf != "J-3201-000001" {
		t.Errorf("meta = %+v", m)
	}
}

func TestOrderAndBatches(t *testing.T) {
	f := newFixture(t)
	if err := f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate); err != nil {
		t.Fatal(err)
	}
	// Jobs arrive out of recording order and in two batches.
	for _, n := range []int{3, 1, 5, 2, 4} {
		s := f.spec(n)
		if n%2 == 0 {
			s.Batch = "B-3201-20261124-02"
		}
		s.Recorded = t0.Add(time.Duration(10-n) * time.Minute) // n=5 recorded first
		if _, err := f.q.Add(f.ctx, f.sign(t, s.Payload())); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := f.q.Jobs(f.ctx, "B-3201-20261124-01", jobqueue.Queued)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID)
	}
	if got := strings.Join(ids, ","); got != "J-3201-000005,J-3201-000003,J-3201-000001" {
		t.Errorf("batch 01 order = %s", got)
	}
	bs, err := f.q.Batches(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].ID != "B-3201-20261124-01" || bs[0].Total != 3 || bs[0].Printable() != 3 || bs[1].Total != 2 {
		t.Errorf("batches = %+v", bs)
	}
	// The engine's next jobs: the first queued ones, in the same order,
	// not those of another batch or in another state.
	next := func(limit int) string {
		js, err := f.q.Queued(f.ctx, "B-3201-20261124-01", limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, j := range js {
			ids = append(ids, j.ID)
		}
		return strings.Join(ids, ",")
	}
	if got := next(2); got != "J-3201-000005,J-3201-000003" {
		t.Errorf("Queued(2) = %s", got)
	}
	if err := f.q.SetState(f.ctx, f.q.DB(), "J-3201-000005", jobqueue.Printing, "on p1"); err != nil {
		t.Fatal(err)
	}
	if got := next(10); got != "J-3201-000003,J-3201-000001" {
		t.Errorf("Queued(10) after one is printing = %s", got)
	}
}

func TestTemplateGatesPrinting(t *testing.T) {
	f := newFixture(t)
	m := f.add(t, 1)
	if m.State != jobqueue.Received {
		t.Fatalf("job without its template is %s, want received", m.State)
	}
	miss, _ := f.q.MissingTemplates(f.ctx)
	if len(miss) != 1 || miss[0] != testTmplRef {
		t.Fatalf("missing templates = %+v", miss)
	}
	err := f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, append(bytes.Clone(testTemplate), ' '))
	if !errors.Is(err, jobqueue.ErrTemplateHash) {
		t.Fatalf("template with other bytes: %v, want ErrTemplateHash", err)
	}
	if err := f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate); err != nil {
		t.Fatal(err)
	}
	got, _ := f.q.Meta(f.ctx, m.ID)
	if got.State != jobqueue.Queued {
		t.Errorf("after template arrived: %s, want queued", got.State)
	}
	b, err := f.q.TemplateBytes(f.ctx, testTmplRef.ID, testTmplRef.SHA256)
	if err != nil || !bytes.Equal(b, testTemplate) {
		t.Errorf("TemplateBytes = %q, %v", b, err)
	}
	if tm, err := f.q.Template(f.ctx, testTmplRef.ID, testTmplRef.SHA256); err != nil || tm == nil {
		t.Errorf("Template: %v", err)
	}
	// A later job with the same template is queued at once.
	if m2 := f.add(t, 2); m2.State != jobqueue.Queued {
		t.Errorf("second job is %s", m2.State)
	}
}

func TestStateMachine(t *testing.T) {
	f := newFixture(t)
	f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	m := f.add(t, 1)
	db := f.q.DB()
	steps := []struct {
		to      jobqueue.State
		ok      bool
		outcome string
	}{
		{jobqueue.Printed, false, ""},
		{jobqueue.Printing, true, ""},
		{jobqueue.SpoiledWaiting, true, "spoiled"},
		{jobqueue.Printing, true, ""},
		{jobqueue.Uncertain, true, ""},
		{jobqueue.Queued, false, ""},
		{jobqueue.Printed, true, "uncertain_resolved"},
		{jobqueue.Queued, false, ""},
		{jobqueue.Cancelled, false, ""},
	}
	for i, s := range steps {
		before := len(outcomes(t, f))
		err := f.q.SetStateDetail(f.ctx, db, m.ID, s.to, jobqueue.Detail{Reason: "step", Printer: "p1", UID: "04A1B2C3"})
		if s.ok && err != nil {
			t.Fatalf("step %d → %s: %v", i, s.to, err)
		}
		if !s.ok {
			var te *jobqueue.TransitionError
			if !errors.As(err, &te) || !errors.Is(err, jobqueue.ErrIllegalTransition) {
				t.Fatalf("step %d → %s: got %v, want an illegal transition", i, s.to, err)
			}
			continue
		}
		outs := outcomes(t, f)
		if s.outcome == "" && len(outs) != before {
			t.Errorf("step %d → %s reported %+v", i, s.to, outs[before:])
		}
		if s.outcome != "" {
			if len(outs) != before+1 || outs[before].Outcome != s.outcome || outs[before].Printer != "p1" || outs[before].UID != "04A1B2C3" {
				t.Errorf("step %d → %s: reports %+v, want one %s", i, s.to, outs[before:], s.outcome)
			}
		}
	}
	got, _ := f.q.Meta(f.ctx, m.ID)
	if got.State != jobqueue.Printed || got.Attempts != 2 || got.EndedAt.IsZero() {
		t.Errorf("final meta = %+v", got)
	}
	// A state change in a transaction that rolls back leaves no trace.
	m2 := f.add(t, 2)
	tx, _ := db.BeginTx(f.ctx, nil)
	if err := f.q.SetState(f.ctx, tx, m2.ID, jobqueue.Printing, ""); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	if got, _ := f.q.Meta(f.ctx, m2.ID); got.State != jobqueue.Queued {
		t.Errorf("rolled-back SetState left job %s", got.State)
	}
	if err := f.q.SetState(f.ctx, db, "J-nope", jobqueue.Printing, ""); !errors.Is(err, jobqueue.ErrNotFound) {
		t.Errorf("unknown job: %v", err)
	}
}

func TestTransitionTableDocumented(t *testing.T) {
	// Every ended state is final, and every non-ended state can reach an end.
	for _, s := range jobqueue.AllStates {
		for _, to := range jobqueue.AllStates {
			if s.Ended() && jobqueue.CanMove(s, to) {
				t.Errorf("%s is ended but may move to %s", s, to)
			}
		}
	}
	src, err := os.ReadFile("state.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range jobqueue.AllStates {
		if !s.Ended() && !bytes.Contains(src, []byte("//\t"+string(s))) {
			t.Errorf("state %s has no line in the transition table comment", s)
		}
	}
}

func TestRevoke(t *testing.T) {
	f := newFixture(t)
	f.q.PutTemplate(f.ctx, testTmplRef.ID, testTmplRef.SHA256, testTemplate)
	a, b, c := f.add(t, 1), f.add(t, 2), f.add(t, 3)
	if err := f.q.SetState(f.ctx, f.q.DB(), b.ID, jobqueue.Printing, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.q.SetState(f.ctx, f.q.DB(), c.ID, jobqueue.Printing, ""); err != nil {
		t.Fatal(err)
	}
	if err := f.q.SetState(f.ctx, f.q.DB(), c.ID, jobqueue.Printed, ""); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		id   string
		want jobqueue.RevokeResult
		st   jobqueue.State
	}{{a.ID, jobqueue.RevokeDone, jobqueue.Revoked}, {b.ID, jobqueue.RevokeTooLate, jobqueue.Printing}, {c.ID, jobqueue.RevokeTooLate, jobqueue.Printed}} {
		r, err := f.q.Revoke(f.ctx, x.id, "data error")
		if err != nil || r != x.want {
			t.Errorf("revoke %s: %v %v, want %v", x.id, r, err, x.want)
		}
		m, _ := f.q.Meta(f.ctx, x.id)
		if m.State != x.st {
			t.Errorf("%s is %s, want %s", x.id, m.State, x.st)
		}
		if x.want == jobqueue.RevokeTooLate && !m.RevokeRequested {
			t.Errorf("%s: late revocation not recorded", x.id)
		}
	}
	var late int
	for _, o := range outcomes(t, f) {
		if o.Outcome == "revocation_late" {
			late++
		}
	}
	if late != 2 {
		t.Errorf("%d late revocations reported, want 2", late)
	}
	// Revoking again does not report again.
	f.q.Revoke(f.ctx, b.ID, "again")
	n := 0
	for _, o := range outcomes(t, f) {
		if o.Outcome == "revocation_late" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("second revocation reported again (%d)", n)
	}
}

// TestCompactEnvelopeAccepted: a station still takes a job in the compact
// JWS form (a centre not yet sending the unencoded JSON form).
func TestCompactEnvelopeAccepted(t *testing.T) {
	f := newFixture(t)
	raw, _ := json.Marshal(f.spec(1).Payload())
	s, err := central.SignCompact(f.key, f.kid, raw)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(s, "{") {
		t.Fatal("SignCompact made the JSON form")
	}
	if _, err := f.q.Add(f.ctx, s); err != nil {
		t.Fatalf("compact envelope refused: %v", err)
	}
	if _, err := f.q.Load(f.ctx, "J-3201-000001"); err != nil {
		t.Fatal(err)
	}
}
