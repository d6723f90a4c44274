package web

import (
	"context"
	"net/http"
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
