package web

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	sumnote "golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/printer"
	"printstation/station"
	"printstation/storage"
)

// auditBed is a real ledger and account store in a temporary database,
// with events placed in time by a settable clock, and the page over it.
type auditBed struct {
	t      *testing.T
	db     *sql.DB
	ro     *sql.DB // the same file opened read-only, as the daemon hands it
	ledger *inventory.Ledger
	acc    *accounts.Store
	now    time.Time
	mu     sync.Mutex
	logBuf *bytes.Buffer
	st     *centreFake
	h      http.Handler
	centre sumnote.Signer
	cv     sumnote.Verifier
	signer sumnote.Signer
}

// The UIDs of the fixture's cards: a destroyed one, one waiting for two
// days, one spoiled an hour ago.
const (
	uidDestroyed = "04A1B2C3D4E5F6"
	uidOld       = "04D0D0D0D0D0D0"
	uidFresh     = "04F1F2F3F4F5F6"
)

func newAuditBed(t *testing.T) *auditBed {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "station.db")
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &auditBed{t: t, st: &centreFake{fakeStation: newFake()}, db: db, now: time.Now().Add(-3 * 24 * time.Hour), logBuf: &bytes.Buffer{}}
	clock := func() time.Time {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.now
	}
	signer, _, err := inventory.LoadOrCreateSigner(filepath.Join(dir, "ledger.key"), "station-w1")
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := sumnote.GenerateKey(nil, "centralsim-witness")
	if err != nil {
		t.Fatal(err)
	}
	if b.centre, err = sumnote.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if b.cv, err = sumnote.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	b.signer = signer
	b.ledger, err = inventory.Open(ctx, db, inventory.Options{StationID: "w1", Signer: signer, CheckpointEvery: 5, Now: clock, CentreVerifier: b.cv})
	if err != nil {
		t.Fatal(err)
	}
	b.acc, err = accounts.Open(ctx, db, accounts.Options{Ledger: b.ledger, Params: accounts.Params{Memory: 64, Time: 1, Threads: 1, KeyLen: 32}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct{ name, role string }{{"ani", "operator"}, {"sari", "supervisor"}, {"rudi", "auditor"}, {"tono", "technician"}} {
		rs, _ := accounts.ParseRoles(p.role)
		if err := b.acc.Add(ctx, accounts.Root, p.name, rs, []byte(secretOf(p.name))); err != nil {
			t.Fatal(err)
		}
	}
	b.ro, err = storage.OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.ro.Close() })
	log := zerolog.New(zerolog.SyncWriter(b.logBuf))
	b.h = New(b.st, Options{Station: "ST-TEST-01", Log: log, Accounts: b.acc, AuditDB: b.ro, Office: "Dinas Dukcapil Kabupaten Contoh",
		WitnessKey: vkey, Now: func() time.Time { return time.Now() }})
	return b
}

func (b *auditBed) at(ago time.Duration) {
	b.mu.Lock()
	b.now = time.Now().Add(-ago)
	b.mu.Unlock()
}

func (b *auditBed) record(e inventory.Event) inventory.Entry {
	b.t.Helper()
	en, err := b.ledger.Record(context.Background(), e)
	if err != nil {
		b.t.Fatal(err)
	}
	return en
}

// story records a small station's days: a delivery, a load, cards
// issued and spoiled, a destruction with two witnesses, a shift close
// whose count is one short, and the printer's counter readings.
func (b *auditBed) story() (destroyed inventory.Entry) {
	b.at(3 * 24 * time.Hour)
	b.record(inventory.Event{Kind: inventory.Received, Actor: "sari", Quantity: 50, DeliveryRef: "DO-1"})
	b.record(inventory.Event{Kind: inventory.Loaded, Actor: "sari", Printer: "p1", Quantity: 20})
	b.record(inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 1000})
	b.record(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: "J-1", UID: "04000000000001"})
	b.record(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: "J-2", UID: uidDestroyed, Reason: inventory.ReasonChipWrite})
	b.at(2 * 24 * time.Hour)
	b.record(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: "J-3", UID: uidOld, Reason: inventory.ReasonPrint})
	b.record(inventory.Event{Kind: inventory.TestCard, Actor: "tono", Printer: "p1"})
	destroyed = b.record(inventory.Event{Kind: inventory.Destroyed, Actor: "sari", UIDs: []string{uidDestroyed}, Witnesses: []string{"sari", "ani"}, RecordRef: "BA-2026-031"})
	b.record(inventory.Event{Kind: inventory.Consumed, Actor: "engine", Printer: "p1", Job: "J-4", UID: "04000000000004"})
	// Counted one short in the printer: a discrepancy the ledger shows.
	b.record(inventory.Event{Kind: inventory.ShiftClosed, Actor: "sari", Witnesses: []string{"ani"}, Counted: map[string]int64{inventory.Storage: 30, inventory.InPrinter("p1"): 14}})
	b.at(time.Hour)
	b.record(inventory.Event{Kind: inventory.Spoiled, Actor: "engine", Printer: "p1", Job: "J-5", UID: uidFresh, Reason: inventory.ReasonJam})
	// The counter moved 7 while the ledger fed 6 (2 consumed, 3 spoiled, 1 test).
	b.record(inventory.Event{Kind: inventory.CounterReading, Actor: "engine", Printer: "p1", CardsInserted: 1007})
	b.at(0)
	// A test card from the technician's page: a blank spoiled for "test".
	b.record(inventory.Event{Kind: inventory.Spoiled, Actor: "tono", Printer: "p1", Reason: inventory.ReasonTest, UID: "04777777777777"})
	return destroyed
}

func (b *auditBed) client(name, accept string) *client {
	c := &client{t: b.t, h: b.h, accept: accept}
	c.get("/")
	c.next(c.post("/signin", map[string][]string{"name": {name}, "secret": {secretOf(name)}}))
	return c
}

var auditPaths = []string{"/audit", "/audit?run=1", "/audit/reconcile", "/audit/spoiled", "/audit/export", "/audit/download?format=csv&log=blanks",
	"/audit/people", "/audit/berita-acara/0", "/audit/monthly"}

// Only the roles holding audit.read reach the auditor's screens; an
// operator or a technician is told whose screens they are.
func TestAuditScreensByRole(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	for _, who := range []struct {
		name string
		ok   bool
	}{{"ani", false}, {"tono", false}, {"sari", true}, {"rudi", true}} {
		c := b.client(who.name, "en")
		for _, p := range auditPaths {
			rec := c.get(p)
			refused := rec.Code == http.StatusForbidden && strings.Contains(rec.Body.String(), "Your account may not do this")
			if who.ok == refused || (who.ok && rec.Code != 200 && !strings.HasPrefix(p, "/audit/berita-acara")) {
				t.Errorf("%s %s: %d (want allowed=%v)", who.name, p, rec.Code, who.ok)
			}
		}
		home := c.get("/").Body.String()
		if strings.Contains(home, `id="audit-link"`) != who.ok {
			t.Errorf("%s's menu shows the audit link: %v, want %v", who.name, !who.ok, who.ok)
		}
	}
	if c := (&client{t: t, h: b.h, accept: "en"}); c.get("/audit").Code != http.StatusSeeOther {
		t.Errorf("the audit screen without signing in does not send to the sign-in")
	}
}

var tagRE = regexp.MustCompile(`<[^>]+>`)

// textOf is the page's text, tags removed and spaces folded.
func textOf(h string) string {
	return html.UnescapeString(strings.Join(strings.Fields(tagRE.ReplaceAllString(h, " ")), " "))
}

// section is the HTML of the element with id, up to its closing tag name.
func section(t *testing.T, html, id, closing string) string {
	t.Helper()
	i := strings.Index(html, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no element #%s in:\n%s", id, html)
	}
	j := strings.Index(html[i:], "</"+closing+">")
	if j < 0 {
		t.Fatalf("#%s is not closed", id)
	}
	return html[i : i+j]
}

func TestAuditVerifyShowsCheckpointsAndCosignatures(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	ctx := context.Background()
	// The centre cosigns the checkpoint at size 10 (as the syncer stores
	// what it hands back).
	var msg []byte
	if err := b.db.QueryRow(`SELECT note FROM ledger_checkpoints WHERE size = 10`).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	n, err := sumnote.Open(msg, sumnote.VerifierList(b.ledger.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	cos, err := sumnote.Sign(n, b.centre)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ledger.StoreCosigned(ctx, cos); err != nil {
		t.Fatal(err)
	}
	c := b.client("rudi", "en")
	rep, err := inventory.Verify(ctx, b.ro, inventory.VerifyOptions{CentreKey: b.cv})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %+v", err, rep)
	}
	if body := c.get("/audit").Body.String(); strings.Contains(body, `id="verify-result"`) {
		t.Errorf("the screen verifies before it is asked")
	}
	body := c.get("/audit?run=1").Body.String()
	res := textOf(section(t, body, "verify-result", "div"))
	if !strings.Contains(res, "PASS") || !strings.Contains(body, `class="verdict pass"`) {
		t.Fatalf("an intact ledger: %s", res)
	}
	if got := section(t, body, "verify-events", "dd"); !strings.HasSuffix(got, ">"+l10n("en", rep.Events)) {
		t.Errorf("events shown %q, verify counted %d", got, rep.Events)
	}
	// Every stored checkpoint is a row with its size, root and cosigner.
	rows, total, err := inventory.Checkpoints(ctx, b.ro, b.cv, 100)
	if err != nil || total != rep.Checkpoints || len(rows) != total {
		t.Fatalf("checkpoints: %d rows of %d, verify counted %d: %v", len(rows), total, rep.Checkpoints, err)
	}
	table := section(t, body, "checkpoints", "table")
	for _, r := range rows {
		i := strings.Index(table, `data-size="`+itoa(int(r.Size))+`"`)
		if i < 0 {
			t.Errorf("checkpoint at size %d not listed", r.Size)
			continue
		}
		row := table[i:]
		row = textOf(row[:strings.Index(row, "</tr>")])
		wantCos := "Not yet"
		if r.Size == 10 {
			wantCos = "Yes centralsim-witness"
		}
		if !strings.Contains(row, r.Root[:12]) || !strings.Contains(row, wantCos) {
			t.Errorf("checkpoint %d: %q, want root %s… and %q", r.Size, row, r.Root[:12], wantCos)
		}
	}
	if !strings.Contains(body, "checked with the centre key") {
		t.Errorf("the page does not say the cosignatures were verified with the configured key")
	}
	// verify's warning about the events after the last checkpoint, in the
	// reader's language with the report's figures.
	if rep.UncheckpointedTail == 0 || len(rep.WarningCodes) != len(rep.Warnings) {
		t.Fatalf("the story leaves no events after the last checkpoint, or warnings without codes: %+v", rep)
	}
	idBody := b.client("rudi", "id").get("/audit?run=1").Body.String()
	warn := textOf(section(t, idBody, "verify-warnings", "div"))
	// (signing in adds events, so the tail has grown since rep)
	wantTail := " peristiwa terakhir (mulai nomor " + l10n("id", rep.LastCheckpoint) + ")"
	if !strings.Contains(warn, wantTail) || strings.Contains(warn, "not covered") {
		t.Errorf("the warning in Indonesian: %q, want %q", warn, wantTail)
	}

	// A rewritten event: verification fails loudly, says what it means and
	// what to do, and lists the problem.
	for _, q := range []string{`DROP TRIGGER ledger_events_no_update`,
		`UPDATE ledger_events SET data = CAST(replace(CAST(data AS TEXT), '"job":"J-4"', '"job":"J-9"') AS BLOB), job = 'J-9' WHERE job = 'J-4'`} {
		if _, err := b.db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	body = c.get("/audit?run=1").Body.String()
	res = textOf(section(t, body, "verify-result", "div"))
	for _, want := range []string{"FAIL", "What it means:", "What to do:", "do not delete", "does not match the events"} {
		if !strings.Contains(res, want) {
			t.Errorf("a rewritten ledger: %q lacks %q", res, want)
		}
	}
	if !strings.Contains(body, `class="verdict fail" id="verify-result" role="alert"`) {
		t.Errorf("the failure is not an alert")
	}
	id := b.client("rudi", "id").get("/audit?run=1").Body.String()
	if !strings.Contains(textOf(id), "GAGAL: buku besar tidak cocok") || !strings.Contains(textOf(id), "Yang harus dilakukan:") {
		t.Errorf("the failure in Indonesian:\n%s", textOf(id))
	}
}

func l10n(code string, n int64) string { return newLang(code, nil).Num(n) }

func itoa(n int) string { return strconv.Itoa(n) }

func TestAuditReconcileMatchesTheLedger(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	from := time.Now().Add(-4 * 24 * time.Hour).In(time.Local).Format("2006-01-02")
	to := time.Now().In(time.Local).Format("2006-01-02")
	f, _ := time.ParseInLocation("2006-01-02", from, time.Local)
	e, _ := time.ParseInLocation("2006-01-02", to, time.Local)
	p, err := inventory.Summarize(context.Background(), b.ro, f, e.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	// The printer's counter now is what the ledger expects: the last
	// reading plus the blanks fed since.
	x := p.Printers[0]
	b.st.counter = *x.CounterAtClose + x.FedSinceReading
	p.CheckCounts(map[string]int64{inventory.Storage: 29}, map[string]int64{"p1": b.st.counter})
	c := b.client("rudi", "en")
	body := c.get("/audit/reconcile?from=" + from + "&to=" + to + "&physical_storage=29").Body.String()
	tbl := section(t, body, "reconcile-table", "table")
	pr := tbl[strings.Index(tbl, `data-place="p1"`):]
	pr = pr[:strings.Index(pr, "</tr>")]
	for _, want := range []string{`class="consumed">` + itoa(int(x.Consumed)) + `<`, `class="spoiled">` + itoa(int(sumOf(x.Spoiled))) + `<`} {
		if !strings.Contains(pr, want) {
			t.Errorf("printer row lacks %s:\n%s", want, pr)
		}
	}
	disc := section(t, body, "discrepancies", "table")
	if n := strings.Count(disc, `class="diff"`); n != len(p.Discrepancies) || n != 3 {
		t.Errorf("%d highlighted differences, the ledger has %d:\n%s", n, len(p.Discrepancies), disc)
	}
	for _, d := range p.Discrepancies {
		if !strings.Contains(disc, "<mark>"+itoa(int(d.Counted))+"</mark>") {
			t.Errorf("difference %q not shown", d.What)
		}
	}
	if !strings.Contains(textOf(body), "3 differences found") {
		t.Errorf("no verdict on the reconciliation")
	}
	if got := textOf(pr); !strings.Contains(got, "Now: "+l10n("en", b.st.counter)) {
		t.Errorf("p1's counter now is not shown: %s", got)
	}
	// One card more in the counter than in the ledger: a difference.
	b.st.mu.Lock()
	b.st.counter++
	b.st.mu.Unlock()
	body = c.get("/audit/reconcile?from=" + from + "&to=" + to).Body.String()
	if disc := section(t, body, "discrepancies", "table"); !strings.Contains(disc, "<mark>"+l10n("en", b.st.counter)+"</mark>") || strings.Count(disc, `class="diff"`) != 3 || !strings.Contains(textOf(disc), "Counter now In printer p1") {
		t.Errorf("a counter one ahead of the ledger:\n%s", disc)
	}
	// Busy with a card: the last reading is not compared, and the page
	// says the counter was not read now.
	b.st.mu.Lock()
	b.st.counter = 0
	b.st.mu.Unlock()
	body = c.get("/audit/reconcile?from=" + from + "&to=" + to).Body.String()
	if !strings.Contains(textOf(body), "Not read now") || strings.Count(section(t, body, "discrepancies", "table"), `class="diff"`) != 2 {
		t.Errorf("a printer busy with a card:\n%s", textOf(body))
	}
	if rec := c.get("/audit/reconcile?from=2026-13-01&to=" + to); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "cannot be read") {
		t.Errorf("a bad date: %d", rec.Code)
	}
	if rec := c.get("/audit/reconcile?from=" + to + "&to=" + from); rec.Code != http.StatusBadRequest {
		t.Errorf("from after to: %d", rec.Code)
	}
}

func TestAuditSpoiledAwaitingAndOld(t *testing.T) {
	b := newAuditBed(t)
	destroyed := b.story()
	c := b.client("rudi", "en")
	body := c.get("/audit/spoiled").Body.String()
	awaiting := section(t, body, "awaiting", "table")
	if strings.Contains(awaiting, uidDestroyed) {
		t.Errorf("the destroyed card is listed as awaiting")
	}
	row := func(uid string) string {
		i := strings.Index(awaiting, uid)
		if i < 0 {
			t.Fatalf("%s not listed as awaiting:\n%s", uid, awaiting)
		}
		start := strings.LastIndex(awaiting[:i], "<tr")
		return awaiting[start : i+strings.Index(awaiting[i:], "</tr>")]
	}
	old, fresh := row(uidOld), row(uidFresh)
	if !strings.Contains(old, `class="old"`) || !strings.Contains(textOf(old), newLang("en", nil).T(spoilReasonID(inventory.ReasonPrint))) || !strings.Contains(textOf(old), "more than a day") {
		t.Errorf("the card spoiled two days ago: %s", textOf(old))
	}
	if strings.Contains(fresh, `class="old"`) || !strings.Contains(textOf(fresh), newLang("en", nil).T(spoilReasonID(inventory.ReasonJam))) {
		t.Errorf("the card spoiled an hour ago: %s", textOf(fresh))
	}
	if got := textOf(section(t, body, "awaiting-count", "p")); !strings.Contains(got, "3 spoiled cards await") {
		t.Errorf("awaiting count: %q", got)
	}
	if got := textOf(section(t, body, "awaiting-old", "div")); !strings.Contains(got, "1 card has waited more than a day") {
		t.Errorf("old cards alert: %q", got)
	}
	dest := section(t, body, "destructions", "table")
	if !strings.Contains(dest, `href="/audit/berita-acara/`+itoa(int(destroyed.Seq))+`"`) || !strings.Contains(dest, "BA-2026-031") {
		t.Errorf("the destruction is not listed with its record:\n%s", dest)
	}
}

// The berita acara lists exactly the destroyed cards with their causes,
// the two authenticated people and the place, in both languages, on A4.
func TestBeritaAcara(t *testing.T) {
	b := newAuditBed(t)
	destroyed := b.story()
	path := "/audit/berita-acara/" + itoa(int(destroyed.Seq))
	id := b.client("rudi", "id").get(path)
	if id.Code != 200 {
		t.Fatalf("%s: %d", path, id.Code)
	}
	ba := textOf(section(t, id.Body.String(), "berita-acara", "article"))
	for _, want := range []string{"Berita Acara Pemusnahan", "Nomor: BA-2026-031", "Dinas Dukcapil Kabupaten Contoh", uidDestroyed,
		newLang("id", nil).T(spoilReasonID(inventory.ReasonChipWrite)), "Yang memusnahkan sari", "Saksi ani", newLang("id", nil).Date(destroyed.At)} {
		if !strings.Contains(ba, want) {
			t.Errorf("berita acara (id) lacks %q:\n%s", want, ba)
		}
	}
	for _, not := range []string{uidOld, uidFresh} {
		if strings.Contains(ba, not) {
			t.Errorf("berita acara lists %s, which was not destroyed", not)
		}
	}
	if n := strings.Count(id.Body.String(), `class="ba-card"`); n != 1 {
		t.Errorf("%d cards listed, 1 destroyed", n)
	}
	en := textOf(section(t, b.client("rudi", "en").get(path).Body.String(), "berita-acara", "article"))
	for _, want := range []string{"Record of Destruction", "Destroyed by sari", "Witness ani", uidDestroyed, newLang("en", nil).T(spoilReasonID(inventory.ReasonChipWrite)), "destroyed 1 spoiled or failed blank card,"} {
		if !strings.Contains(en, want) {
			t.Errorf("berita acara (en) lacks %q:\n%s", want, en)
		}
	}
	css := b.client("rudi", "en").get("/static/audit.css").Body.String()
	if !regexp.MustCompile(`@page\s*\{\s*size:\s*A4`).MatchString(css) {
		t.Errorf("audit.css has no A4 page size")
	}
	if rec := b.client("rudi", "en").get("/audit/berita-acara/1"); rec.Code != http.StatusNotFound {
		t.Errorf("a berita acara for an event that is no destruction: %d", rec.Code)
	}
}

func TestAuditExportIsTheCLIExport(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	c := b.client("rudi", "en")
	day := time.Now().In(time.Local).Format("2006-01-02")
	from, _ := time.ParseInLocation("2006-01-02", day, time.Local)
	for _, tc := range []struct {
		query, format, log string
		from, to           time.Time
	}{
		{"format=csv&log=blanks", "csv", "blanks", time.Time{}, time.Time{}},
		{"format=json&log=blanks", "json", "blanks", time.Time{}, time.Time{}},
		{"format=csv&log=people&from=" + day + "&to=" + day, "csv", "people", from, from.AddDate(0, 0, 1)},
	} {
		rec := c.get("/audit/download?" + tc.query)
		var want bytes.Buffer
		if err := inventory.ExportLog(context.Background(), b.ro, &want, tc.format, tc.log, tc.from, tc.to); err != nil {
			t.Fatal(err)
		}
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), want.Bytes()) {
			t.Errorf("%s: %d, %d bytes, the CLI's export has %d", tc.query, rec.Code, rec.Body.Len(), want.Len())
		}
		if cd := rec.Header().Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment; filename=\"ledger-ST-TEST-01-"+tc.log) || !strings.HasSuffix(cd, "."+tc.format+`"`) {
			t.Errorf("%s: Content-Disposition %q", tc.query, cd)
		}
	}
	if !strings.Contains(c.get("/audit/download?format=csv&log=people").Body.String(), "signed_in,rudi") {
		t.Errorf("the people export lacks the auditor's own sign-in")
	}
	if rec := c.get("/audit/download?format=xml&log=blanks"); rec.Code != http.StatusBadRequest || rec.Header().Get("Content-Disposition") != "" {
		t.Errorf("an unknown format: %d", rec.Code)
	}
}

func TestAuditPeopleLogWithPeriod(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	b.client("ani", "en")
	c := b.client("rudi", "en")
	body := c.get("/audit/people").Body.String()
	tbl := textOf(section(t, body, "people", "table"))
	if !strings.Contains(tbl, "Signed in ani") || !strings.Contains(tbl, "Signed in rudi") {
		t.Errorf("today's people log: %s", tbl)
	}
	past := time.Now().Add(-10 * 24 * time.Hour).In(time.Local).Format("2006-01-02")
	body = c.get("/audit/people?from=" + past + "&to=" + past).Body.String()
	if strings.Contains(section(t, body, "people", "table"), "data-seq") || !strings.Contains(body, "No record in this period") {
		t.Errorf("a day with nobody signed in lists people")
	}
}

func TestAuditMonthlyByCause(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	c := b.client("rudi", "id")
	month := time.Now().In(time.Local).Format("2006-01")
	from, _ := time.ParseInLocation("2006-01", month, time.Local)
	p, err := inventory.Summarize(context.Background(), b.ro, from, from.AddDate(0, 1, 0))
	if err != nil {
		t.Fatal(err)
	}
	body := c.get("/audit/monthly?month=" + month).Body.String()
	cell := func(id string) string { return textOf(section(t, body, id, "td"))[len(id)+6:] }
	for id, want := range map[string]int64{"m-consumed": p.Consumed, "m-destroyed": p.Destroyed, "m-test": p.TestCards + p.Spoiled[inventory.ReasonTest], "m-received": p.Received} {
		if got := strings.TrimSpace(cell(id)); got != l10n("id", want) {
			t.Errorf("%s: %q, the ledger says %d", id, got, want)
		}
	}
	causes := section(t, body, "monthly-causes", "table")
	for r, n := range p.Spoiled {
		i := strings.Index(causes, `data-reason="`+r+`"`)
		if i < 0 {
			t.Errorf("cause %s (%d) not in the report", r, n)
			continue
		}
		if !strings.Contains(causes[i:i+strings.Index(causes[i:], "</tr>")], "<td>"+l10n("id", n)+"</td>") {
			t.Errorf("cause %s: want %d", r, n)
		}
	}
	if len(p.Spoiled) == 0 {
		t.Fatalf("the fixture spoiled nothing this month")
	}
	if rec := c.get("/audit/monthly?month=2026-13"); rec.Code != http.StatusBadRequest {
		t.Errorf("month 13: %d", rec.Code)
	}
}

// The screens show chip UIDs to the auditor; the daemon's log never
// carries one.
func TestAuditKeepsUIDsOutOfTheLog(t *testing.T) {
	b := newAuditBed(t)
	d := b.story()
	c := b.client("rudi", "en")
	seen := ""
	for _, p := range append(auditPaths, "/audit/berita-acara/"+itoa(int(d.Seq)), "/audit/download?format=json&log=blanks") {
		seen += c.get(p).Body.String()
	}
	if !strings.Contains(seen, uidDestroyed) || !strings.Contains(seen, uidOld) {
		t.Fatalf("the screens do not show the UIDs at all")
	}
	b.mu.Lock()
	log := b.logBuf.String()
	b.mu.Unlock()
	if !strings.Contains(log, "ledger verified from the web page") {
		t.Fatalf("the test reads the wrong log: %s", log)
	}
	for _, u := range []string{uidDestroyed, uidOld, uidFresh} {
		if strings.Contains(log, u) {
			t.Errorf("the log carries chip UID %s", u)
		}
	}
}

// Without a database the screens say so, and never fail.
func TestAuditWithoutDatabase(t *testing.T) {
	c := signedIn(t, newFake(), "rudi", "auditor")
	for _, p := range []string{"/audit?run=1", "/audit/reconcile?from=2026-11-01&to=2026-11-02", "/audit/spoiled", "/audit/people", "/audit/monthly"} {
		rec := c.get(p)
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), "cannot read the station database") {
			t.Errorf("%s without a database: %d", p, rec.Code)
		}
	}
}

// centreFake is the engine with the centre's witness record.
type centreFake struct {
	*fakeStation
	ledger *inventory.Ledger // set: destructions go to the real ledger
	mu     sync.Mutex
	exp    *inventory.CentreExport
	err    error
	// counter is printer p1's hardware counter now (0: not read).
	counter int64
}

// PrinterHealth answers p1's counter as set; p2 is busy with a card.
func (c *centreFake) PrinterHealth(_ context.Context, name string) (*station.PrinterHealth, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if name != "p1" || c.counter == 0 {
		return &station.PrinterHealth{Name: name, Stale: true, Counters: &printer.Counters{CardsInserted: 99}}, nil
	}
	return &station.PrinterHealth{Name: name, Read: time.Now(), Counters: &printer.Counters{CardsInserted: c.counter}}, nil
}

func (c *centreFake) CentreRecord(context.Context) (*inventory.CentreExport, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.exp == nil && c.err == nil {
		return nil, station.ErrNoCentre
	}
	return c.exp, c.err
}

// The verification compares the ledger with the centre's own record when
// the centre answers: a record the database cannot reproduce fails it;
// an unreachable centre is said, never taken for a pass of that check.
func TestAuditVerifyAgainstTheCentresRecord(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	var msg []byte
	if err := b.db.QueryRow(`SELECT note FROM ledger_checkpoints WHERE size = 10`).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	n, err := sumnote.Open(msg, sumnote.VerifierList(b.ledger.Verifier()))
	if err != nil {
		t.Fatal(err)
	}
	cos, err := sumnote.Sign(n, b.centre)
	if err != nil {
		t.Fatal(err)
	}
	good := &inventory.CentreExport{Station: "w1", Enrolments: []inventory.CentreEnrolment{{Epoch: 1, VKey: b.ledger.VerifierKey()}},
		Checkpoints: []inventory.CentreCheckpoint{{Epoch: 1, Size: 10, Checkpoint: string(cos)}}}
	c := b.client("rudi", "en")
	b.st.mu.Lock()
	b.st.exp = good
	b.st.mu.Unlock()
	body := c.get("/audit?run=1").Body.String()
	if !strings.Contains(body, `class="verdict pass"`) || !strings.Contains(textOf(section(t, body, "centre-compared", "p")), "1 checkpoints the centre cosigned in enrolment epoch 1") {
		t.Fatalf("verified against the centre's record:\n%s", textOf(body))
	}

	// The centre witnessed 40 events; this database holds fewer: the
	// tail was cut (or the file is an older copy).
	lost, err := sumnote.Sign(&sumnote.Note{Text: string(inventory.FormatCheckpoint(inventory.Origin("w1"), tlog.Tree{N: 40}))}, b.signer, b.centre)
	if err != nil {
		t.Fatal(err)
	}
	bad := *good
	bad.Checkpoints = append(append([]inventory.CentreCheckpoint(nil), good.Checkpoints...), inventory.CentreCheckpoint{Epoch: 1, Size: 40, Checkpoint: string(lost)})
	b.st.mu.Lock()
	b.st.exp = &bad
	b.st.mu.Unlock()
	body = c.get("/audit?run=1").Body.String()
	res := textOf(section(t, body, "verify-result", "div"))
	if !strings.Contains(res, "FAIL") || !strings.Contains(res, "were deleted") {
		t.Errorf("a database shorter than the centre's record: %s", res)
	}

	b.st.mu.Lock()
	b.st.exp, b.st.err = nil, errors.New("dial tcp: connection refused")
	b.st.mu.Unlock()
	body = c.get("/audit?run=1").Body.String()
	if got := textOf(section(t, body, "centre-compared", "div")); !strings.Contains(got, "cannot be fetched now") {
		t.Errorf("an unreachable centre: %q", got)
	}
}

func sumOf(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// RecordStock of the test engine writes destructions to the real ledger,
// as the engine does.
func (c *centreFake) RecordStock(ctx context.Context, op station.StockOp) (inventory.Entry, error) {
	if op.Op != "destroy" || c.ledger == nil {
		return c.fakeStation.RecordStock(ctx, op)
	}
	return c.ledger.Record(ctx, inventory.Event{Kind: inventory.Destroyed, Actor: op.Actor, Quantity: op.Quantity, UIDs: op.UIDs, Witnesses: op.Witnesses, RecordRef: op.RecordRef})
}

// On /stock the supervisor ticks the waiting cards by chip UID; the
// destruction names them, and the auditor's berita acara lists them.
func TestDestroyByUIDOnTheStockPage(t *testing.T) {
	b := newAuditBed(t)
	b.st.ledger = b.ledger
	b.story()
	sup := b.client("sari", "en")
	page := sup.get("/stock").Body.String()
	cards := section(t, page, "destroy-cards", "fieldset")
	for _, u := range []string{uidOld, uidFresh} {
		if !strings.Contains(cards, `name="uid" value="`+u+`"`) {
			t.Errorf("the destruction form does not offer %s:\n%s", u, cards)
		}
	}
	if strings.Contains(cards, uidDestroyed) {
		t.Errorf("the destruction form offers a card already destroyed")
	}
	if rec := sup.post("/stock", map[string][]string{"op": {"destroy"}, "uid": {"04ZZ"}, "record_ref": {"BA-9"}, "witness_name": {"ani"}, "witness_secret": {secretOf("ani")}}); rec.Code != http.StatusBadRequest {
		t.Errorf("a forged UID: %d", rec.Code)
	}
	rec := sup.post("/stock", map[string][]string{"op": {"destroy"}, "uid": {uidOld}, "record_ref": {"BA-2026-099"}, "witness_name": {"ani"}, "witness_secret": {secretOf("ani")}})
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("destroy by UID: %d\n%s", rec.Code, textOf(rec.Body.String()))
	}
	sp, err := inventory.SpoiledAndDestroyed(context.Background(), b.ro)
	if err != nil {
		t.Fatal(err)
	}
	last := sp.Destructions[len(sp.Destructions)-1]
	if last.RecordRef != "BA-2026-099" || len(last.Cards) != 1 || last.Cards[0].UID != uidOld || last.Quantity != 1 || !slicesEqual(last.Witnesses, []string{"sari", "ani"}) {
		t.Fatalf("the destruction in the ledger: %+v", last)
	}
	ba := textOf(section(t, b.client("rudi", "en").get("/audit/berita-acara/"+itoa(int(last.Seq))).Body.String(), "berita-acara", "article"))
	if !strings.Contains(ba, uidOld) || !strings.Contains(ba, newLang("en", nil).T(spoilReasonID(inventory.ReasonPrint))) || strings.Contains(ba, uidFresh) {
		t.Errorf("the berita acara of the page's destruction:\n%s", ba)
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

// A destruction by count alone (a chip never read): the berita acara says
// how many cards it names without UIDs, and the waiting list says it is
// longer than the ledger's count, and why.
func TestDestructionByCountIsSaidSo(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	d := b.record(inventory.Event{Kind: inventory.Destroyed, Actor: "sari", Quantity: 1, Witnesses: []string{"sari", "ani"}, RecordRef: "BA-2026-100"})
	c := b.client("rudi", "en")
	ba := textOf(section(t, c.get("/audit/berita-acara/"+itoa(int(d.Seq))).Body.String(), "berita-acara", "article"))
	if !strings.Contains(ba, "1 more card was destroyed by count; its UID was not recorded") || strings.Contains(ba, uidOld) || strings.Contains(ba, uidFresh) {
		t.Errorf("a destruction by count:\n%s", ba)
	}
	page := c.get("/audit/spoiled").Body.String()
	if got := textOf(section(t, page, "awaiting-by-count", "div")); !strings.Contains(got, "This list holds 3 cards, the ledger counts 2") {
		t.Errorf("the waiting list after a destruction by count: %q", got)
	}
}

// A station that destroyed nothing for long: the page lists the oldest
// MaxAwaitingShown waiting cards and says how many more wait.
func TestAwaitingListBounded(t *testing.T) {
	b := newAuditBed(t)
	b.record(inventory.Event{Kind: inventory.Received, Actor: "sari", Quantity: 1000, DeliveryRef: "DO-1"})
	for i := 0; i < MaxAwaitingShown+5; i++ {
		b.record(inventory.Event{Kind: inventory.Spoiled, Actor: "sari", Reason: inventory.ReasonDamaged, UID: fmt.Sprintf("04%012X", i)})
	}
	body := b.client("rudi", "en").get("/audit/spoiled").Body.String()
	if n := strings.Count(section(t, body, "awaiting", "table"), "<tr data-seq="); n != MaxAwaitingShown {
		t.Errorf("%d waiting cards listed, want %d", n, MaxAwaitingShown)
	}
	if got := textOf(section(t, body, "awaiting-hidden", "p")); !strings.Contains(got, "5 more cards wait") || !strings.Contains(body, "04000000000000") {
		t.Errorf("the hidden cards: %q", got)
	}
	stock := b.client("sari", "en").get("/stock").Body.String()
	if n := strings.Count(section(t, stock, "destroy-cards", "fieldset"), `name="uid"`); n != MaxAwaitingShown {
		t.Errorf("the destruction form offers %d cards, want at most %d", n, MaxAwaitingShown)
	}
	if got := textOf(section(t, stock, "destroy-cards-more", "p")); !strings.Contains(got, "5 more cards wait") {
		t.Errorf("the destruction form does not say more cards wait: %q", got)
	}
}
