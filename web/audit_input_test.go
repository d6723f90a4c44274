package web

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"printstation/inventory"
)

// Dates far in the past or future would be compared with the ledger's
// times as text (year 10000 sorts before 2026) and give a silently empty
// or wrong period: every audit screen refuses them with the field named,
// in both languages, as it does a count that is not a number.
func TestAuditRefusesFarDatesNamingTheField(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	for _, c := range []struct {
		lang, path, want string
	}{
		{"en", "/audit/reconcile?from=2026-01-01&to=9999-12-31", "To (included): choose a date between the years 2000 and 2099."},
		{"id", "/audit/reconcile?from=2026-01-01&to=9999-12-31", "Sampai tanggal (termasuk): pilih tanggal antara tahun 2000 dan 2099."},
		{"en", "/audit/people?from=0001-01-01&to=2026-01-01", "From: choose a date between the years 2000 and 2099."},
		{"id", "/audit/export?from=0001-01-01&to=2026-01-01", "Dari tanggal: pilih tanggal antara tahun 2000 dan 2099."},
		{"en", "/audit/download?format=csv&log=blanks&from=2026-01-01&to=9999-12-31", "To (included): choose a date"},
		{"en", "/audit/monthly?month=9999-12", "Month: choose a date between the years 2000 and 2099."},
		{"id", "/audit/monthly?month=0001-01", "Bulan: pilih tanggal antara tahun 2000 dan 2099."},
		{"en", "/audit/reconcile?from=2026-02-30&to=2026-03-01", "From: The dates cannot be read"},
		{"id", "/audit/reconcile?from=2026-01-01&to=2026-01-02&physical_p1=-3", "Di printer p1: Hitungan fisik harus"},
		{"en", "/audit/reconcile?from=2026-01-01&to=2026-01-02&physical_storage=lots", "In storage: A physical count must be"},
	} {
		rec := b.client("rudi", c.lang).get(c.path)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%s (%s): %d, want 400", c.path, c.lang, rec.Code)
			continue
		}
		if body := textOf(rec.Body.String()); !strings.Contains(body, c.want) {
			t.Errorf("%s (%s): the page does not say %q:\n%s", c.path, c.lang, c.want, body)
		}
	}
}

// A destruction names only cards that wait for it: a UID destroyed
// already, one never spoiled or one ticked twice is refused with the
// field named, and the ledger gets no destruction for it.
func TestDestroyOnlyCardsAwaiting(t *testing.T) {
	b := newAuditBed(t)
	b.st.ledger = b.ledger
	b.story()
	before, err := inventory.SpoiledAndDestroyed(context.Background(), b.ro)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		lang string
		uids []string
		want string
	}{
		{"en", []string{uidDestroyed}, "Cards destroyed (by chip UID): card " + uidDestroyed + " is not waiting for destruction"},
		{"en", []string{uidOld, strings.ToLower(uidOld)}, "card " + uidOld + " is not waiting for destruction"},
		{"id", []string{"04ABCDEF0102"}, "Kartu yang dimusnahkan (menurut UID chip): kartu 04ABCDEF0102 tidak sedang menunggu pemusnahan"},
	} {
		sup := b.client("sari", c.lang)
		rec := sup.post("/stock", map[string][]string{"op": {"destroy"}, "uid": c.uids, "record_ref": {"BA-9"}, "witness_name": {"ani"}, "witness_secret": {secretOf("ani")}})
		if rec.Code != http.StatusBadRequest || !strings.Contains(textOf(rec.Body.String()), c.want) {
			t.Errorf("destroy %v (%s): %d\n%s", c.uids, c.lang, rec.Code, errorNote(rec.Body.String()))
		}
	}
	after, err := inventory.SpoiledAndDestroyed(context.Background(), b.ro)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Destructions) != len(before.Destructions) {
		t.Errorf("a refused destruction reached the ledger: %d destructions, were %d", len(after.Destructions), len(before.Destructions))
	}
}

// Ticked cards and a different count in one destruction: the ledger keeps
// one or the other, so the page refuses it naming the count field, in the
// person's language, before the engine (which answered in English).
func TestDestroyTickedCardsWithACount(t *testing.T) {
	b := newAuditBed(t)
	b.st.ledger = b.ledger
	b.story()
	for _, c := range []struct{ lang, want string }{
		{"en", "How many: the cards ticked are counted by their UIDs (1): leave the count empty"},
		{"id", "kartu yang dicentang dihitung dari UID-nya (1): kosongkan jumlah"},
	} {
		rec := b.client("sari", c.lang).post("/stock", map[string][]string{"op": {"destroy"}, "uid": {uidOld}, "quantity": {"3"}, "record_ref": {"BA-9"}, "witness_name": {"ani"}, "witness_secret": {secretOf("ani")}})
		if rec.Code != http.StatusBadRequest || !strings.Contains(textOf(rec.Body.String()), c.want) {
			t.Errorf("%s: %d\n%s", c.lang, rec.Code, errorNote(rec.Body.String()))
		}
	}
}

// The people log says each action and way in with the page's words: an
// Indonesian auditor does not read "printer_diag_test-card" or "socket";
// an action the page has no words for shows its code marked as English.
func TestPeopleLogActionsInThePagesLanguage(t *testing.T) {
	b := newAuditBed(t)
	b.story()
	b.record(inventory.Event{Kind: inventory.ActionTaken, Actor: "tek", Via: inventory.ViaWeb, Action: "printer_diag_test-card", Printer: "p1"})
	b.record(inventory.Event{Kind: inventory.ActionTaken, Actor: "sari", Via: inventory.ViaSocket, Action: "stock_request", Subject: "web-0123456789"})
	b.record(inventory.Event{Kind: inventory.ActionTaken, Actor: "sari", Via: inventory.ViaSocket, Action: "something_new"})
	for _, c := range []struct {
		lang  string
		wants []string
	}{
		{"id", []string{"Kartu uji dicetak p1", "Permintaan blangko ke pusat web-0123456789", "halaman", "printstationctl"}},
		{"en", []string{"Test card printed p1", "Request for blanks to the centre web-0123456789", "page"}},
	} {
		body := b.client("rudi", c.lang).get("/audit/people").Body.String()
		tbl := section(t, body, "people", "table")
		for _, want := range c.wants {
			if !strings.Contains(textOf(tbl), want) {
				t.Errorf("%s: the people log lacks %q:\n%s", c.lang, want, textOf(tbl))
			}
		}
		for _, code := range []string{"printer_diag_test-card", "stock_request", ">web<", ">socket<"} {
			if strings.Contains(tbl, code) {
				t.Errorf("%s: the people log shows the code %s", c.lang, code)
			}
		}
		if !strings.Contains(tbl, `<span lang="en">something_new</span>`) {
			t.Errorf("%s: an action without words is not marked as English", c.lang)
		}
	}
}

// A batch or job action from the page is one line in the people log (the
// auditor's people log showed each twice).
func TestPageActionIsOneLineInThePeopleLog(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "sari", Supervisor)
	c.next(c.post("/batch", url.Values{"batch": {"B-001"}, "action": {"start"}}))
	c.next(c.post("/attention", url.Values{"job": {"J-78"}, "action": {"retry"}}))
	var batch, job int
	for _, l := range c.acc.people() {
		batch += strings.Count(l, "batch_start B-001")
		job += strings.Count(l, "job_retry J-78")
	}
	if batch != 1 || job != 1 {
		t.Errorf("people log: %d batch_start and %d job_retry lines, want 1 each:\n%s", batch, job, strings.Join(c.acc.people(), "\n"))
	}
}

// A text within its character bound but past the ledger's 256 bytes
// (letters outside ASCII) is refused on the form, naming the field in the
// person's language; before, the ledger refused it in English.
func TestStockTextWithinTheLedgersBytes(t *testing.T) {
	f := newOpsFake()
	for _, c := range []struct {
		lang string
		form url.Values
		want string
	}{
		{"en", url.Values{"op": {"receive"}, "quantity": {"10"}, "delivery_ref": {strings.Repeat("ꦗ", 90)}}, "Delivery note number: too long for the ledger"},
		{"id", url.Values{"op": {"adjust"}, "location": {"storage"}, "quantity": {"-1"}, "reason": {strings.Repeat("é", 150)}, "witness_name": {"ani"}, "witness_secret": {"x"}}, "Alasan: terlalu panjang untuk buku besar"},
	} {
		cl := signedIn(t, f, "sari", Supervisor)
		if c.lang == "id" {
			cl.accept = "id"
		}
		cl.get("/stock")
		rec := cl.post("/stock", c.form)
		if rec.Code != http.StatusBadRequest || !strings.Contains(textOf(rec.Body.String()), c.want) {
			t.Errorf("%s %s: %d\n%s", c.lang, c.form.Get("op"), rec.Code, errorNote(rec.Body.String()))
		}
	}
	if ops := f.Ops(); len(ops) != 0 {
		t.Errorf("a refused form reached the engine: %+v", ops)
	}
}
