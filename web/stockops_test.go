package web

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station"
)

func init() {
	// Receiving, loading and unloading are on the page: stock.move has a
	// route in the role × route test.
	pageRoutes = append(pageRoutes, pageRoute{accounts.StockMove, "POST", "/stock", func(accounts.Role) url.Values {
		return url.Values{"op": {"receive"}, "quantity": {"10"}, "delivery_ref": {"SJ-1"}}
	}})
}

// opsFake keeps every StockOp the page hands the engine, whole.
type opsFake struct {
	*fakeStation
	mu  sync.Mutex
	ops []station.StockOp
}

func newOpsFake() *opsFake { return &opsFake{fakeStation: newFake()} }

func (f *opsFake) RecordStock(ctx context.Context, op station.StockOp) (inventory.Entry, error) {
	f.mu.Lock()
	f.ops = append(f.ops, op)
	f.mu.Unlock()
	return f.fakeStation.RecordStock(ctx, op)
}

func (f *opsFake) Ops() []station.StockOp {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]station.StockOp(nil), f.ops...)
}

// Receive, load and unload go through the one form handler to the engine
// as the same StockOp printstationctl sends, with the signed-in person as
// the actor and no witness; the outcome is said with the quantity.
func TestStockMovesFromThePage(t *testing.T) {
	f := newOpsFake()
	c := signedIn(t, f, "ani", Operator)
	body := c.get("/stock").Body.String()
	for _, id := range []string{`id="receive"`, `id="load"`, `id="unload"`, `id="destroy"`, `id="adjust"`, `id="shift-close"`, `data-place="printer:p1"`} {
		if !strings.Contains(body, id) {
			t.Fatalf("the stock page lacks %s:\n%s", id, body)
		}
	}
	for _, c2 := range []struct {
		form url.Values
		want station.StockOp
		says string
	}{
		{url.Values{"op": {"receive"}, "quantity": {" 500 "}, "delivery_ref": {"SJ-2026-11-30"}, "serial_first": {"A0001"}, "serial_last": {"A0500"}},
			station.StockOp{Op: "receive", Quantity: 500, DeliveryRef: "SJ-2026-11-30", SerialFirst: "A0001", SerialLast: "A0500", Actor: "ani"}, "Recorded: 500 blanks received by ani"},
		{url.Values{"op": {"load"}, "printer": {"p2"}, "quantity": {"120"}},
			station.StockOp{Op: "load", Quantity: 120, Printer: "p2", Actor: "ani"}, "Recorded: 120 blanks loaded into printer p2 by ani"},
		{url.Values{"op": {"unload"}, "printer": {"p1"}, "quantity": {"3"}, "witness_name": {"ignored"}},
			station.StockOp{Op: "unload", Quantity: 3, Printer: "p1", Actor: "ani"}, "Recorded: 3 blanks unloaded from printer p1 by ani"},
	} {
		before := len(f.Ops())
		page := c.next(c.post("/stock", c2.form))
		if !strings.Contains(page, c2.says) {
			t.Errorf("%s: the page does not say %q:\n%s", c2.want.Op, c2.says, page)
		}
		ops := f.Ops()
		if len(ops) != before+1 {
			t.Fatalf("%s: %d engine calls, want 1", c2.want.Op, len(ops)-before)
		}
		got := ops[len(ops)-1]
		if got.Op != c2.want.Op || got.Quantity != c2.want.Quantity || got.Printer != c2.want.Printer || got.DeliveryRef != c2.want.DeliveryRef ||
			got.SerialFirst != c2.want.SerialFirst || got.SerialLast != c2.want.SerialLast || got.Actor != c2.want.Actor || len(got.Witnesses)+len(got.Approvers) != 0 {
			t.Errorf("engine got %+v, want %+v", got, c2.want)
		}
	}
}

// Bad input is refused before the engine, with a message that names the
// field as the form labels it, in Indonesian and in English.
func TestStockFormNamesTheBadField(t *testing.T) {
	f := newOpsFake()
	c := signedIn(t, f, "ani", Supervisor)
	c.acc.add("sari", Supervisor)
	wit := func(v url.Values) url.Values {
		v.Set("witness_name", "sari")
		v.Set("witness_secret", secretOf("sari"))
		return v
	}
	for _, tc := range []struct {
		form   url.Values
		en, id string
	}{
		{url.Values{"op": {"receive"}, "quantity": {"1.000"}, "delivery_ref": {"SJ-1"}}, "How many received: write a whole number, 1 or more", "Jumlah diterima: tulis bilangan bulat 1 atau lebih"},
		{url.Values{"op": {"receive"}, "quantity": {"0"}, "delivery_ref": {"SJ-1"}}, "How many received: write a whole number, 1 or more", "Jumlah diterima: tulis bilangan bulat 1 atau lebih"},
		{url.Values{"op": {"receive"}, "quantity": {"10"}, "delivery_ref": {"  "}}, "Delivery note number: fill this in.", "Nomor surat jalan / pengiriman: isi kolom ini."},
		{url.Values{"op": {"receive"}, "quantity": {"10"}, "delivery_ref": {"SJ-1"}, "serial_first": {"A1"}}, "Last serial number (if any): write both", "Nomor seri terakhir (jika ada): isi nomor seri pertama dan terakhir"},
		{url.Values{"op": {"receive"}, "quantity": {"2000000"}, "delivery_ref": {"SJ-1"}}, "How many received: at most 1,000,000.", "Jumlah diterima: paling banyak 1.000.000."},
		{url.Values{"op": {"receive"}, "quantity": {"10"}, "delivery_ref": {strings.Repeat("x", 101)}}, "Delivery note number: at most 100 characters.", "Nomor surat jalan / pengiriman: paling banyak 100 karakter."},
		{url.Values{"op": {"load"}, "printer": {"p9"}, "quantity": {"10"}}, "Printer: choose one from the list.", "Printer: pilih salah satu dari daftar."},
		{url.Values{"op": {"load"}, "printer": {"p1"}, "quantity": {""}}, "How many loaded: fill this in.", "Jumlah dimuat: isi kolom ini."},
		{url.Values{"op": {"unload"}, "printer": {"p1"}, "quantity": {"-4"}}, "How many unloaded: write a whole number, 1 or more", "Jumlah dikeluarkan: tulis bilangan bulat 1 atau lebih"},
		{wit(url.Values{"op": {"adjust"}, "location": {"storage"}, "quantity": {"0"}, "reason": {"count"}}), "Change (+ found, − missing): write a whole number other than 0", "Perubahan (+ ditemukan, − hilang): tulis bilangan bulat selain 0"},
		{wit(url.Values{"op": {"adjust"}, "location": {"printer:p7"}, "quantity": {"2"}, "reason": {"count"}}), "Where: choose one from the list.", "Tempat: pilih salah satu dari daftar."},
		{wit(url.Values{"op": {"adjust"}, "location": {"storage"}, "quantity": {"2"}, "reason": {""}}), "Reason: fill this in.", "Alasan: isi kolom ini."},
		{wit(url.Values{"op": {"destroy"}, "quantity": {"2"}, "record_ref": {""}}), "Destruction record (minutes) reference: fill this in.", "Nomor berita acara pemusnahan: isi kolom ini."},
		{wit(url.Values{"op": {"shift-close"}, "counted_storage": {"10"}, "counted_printer:p1": {"5"}, "counted_printer:p2": {"-1"}}), "Counted in printer p2: write a whole number, 0 or more", "Jumlah dihitung di printer p2: tulis bilangan bulat 0 atau lebih"},
		{wit(url.Values{"op": {"shift-close"}, "counted_storage": {"10"}, "counted_printer:p1": {"5"}}), "Counted in printer p2: fill this in.", "Jumlah dihitung di printer p2: isi kolom ini."},
	} {
		for _, lang := range []struct{ accept, want string }{{"en", tc.en}, {"id", tc.id}} {
			c.accept = lang.accept
			c.get("/stock") // the token of this language's page
			form := url.Values{}
			for k, v := range tc.form {
				form[k] = v
			}
			rec := c.post("/stock", form)
			if rec.Code != http.StatusBadRequest || !strings.Contains(html.UnescapeString(rec.Body.String()), lang.want) {
				t.Errorf("%s %v (%s): %d, want 400 saying %q:\n%s", tc.form.Get("op"), tc.form, lang.accept, rec.Code, lang.want, errorNote(rec.Body.String()))
			}
		}
	}
	if ops := f.Ops(); len(ops) != 0 {
		t.Fatalf("refused forms reached the engine: %+v", ops)
	}
}

// errorNote is the page's error note, for a failure message.
func errorNote(body string) string {
	if i := strings.Index(body, `id="error"`); i >= 0 {
		return body[i:min(len(body), i+400)]
	}
	return "(no error note)"
}

// Every dual-control operation on the page is refused with the signed-in
// account as its own witness, and with a witness whose role may not
// witness; the witness is paired by the same rule for all three.
func TestDualControlRefusedForEveryOperation(t *testing.T) {
	f := newOpsFake()
	c := signedIn(t, f, "ani", Supervisor)
	c.acc.add("tek", "technician")
	c.acc.add("sari", Operator)
	forms := map[string]url.Values{
		"destroy":     {"op": {"destroy"}, "quantity": {"1"}, "record_ref": {"BA-1"}},
		"adjust":      {"op": {"adjust"}, "location": {"printer:p1"}, "quantity": {"-2"}, "reason": {"count after jam"}},
		"shift-close": {"op": {"shift-close"}, "counted_storage": {"40"}, "counted_printer:p1": {"17"}, "counted_printer:p2": {"3"}},
	}
	post := func(op, wname string) (int, string) {
		form := url.Values{}
		for k, v := range forms[op] {
			form[k] = v
		}
		form.Set("witness_name", wname)
		form.Set("witness_secret", secretOf(wname))
		rec := c.post("/stock", form)
		if rec.Code == http.StatusSeeOther {
			return rec.Code, c.get("/stock").Body.String()
		}
		return rec.Code, rec.Body.String()
	}
	for op := range forms {
		if code, body := post(op, "ani"); code != http.StatusForbidden || !strings.Contains(body, "someone else") {
			t.Errorf("%s with the same account as witness: %d\n%s", op, code, errorNote(body))
		}
		if code, body := post(op, "tek"); code != http.StatusForbidden || !strings.Contains(body, "tek may not witness") {
			t.Errorf("%s with a technician as witness: %d\n%s", op, code, errorNote(body))
		}
		form := url.Values{}
		for k, v := range forms[op] {
			form[k] = v
		}
		if rec := c.post("/stock", form); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "The witness signs in on this form") {
			t.Errorf("%s without a witness: %d\n%s", op, rec.Code, errorNote(rec.Body.String()))
		}
	}
	if ops := f.Ops(); len(ops) != 0 {
		t.Fatalf("refused dual-control operations reached the engine: %+v", ops)
	}
	for op := range forms {
		if code, body := post(op, "sari"); code != http.StatusSeeOther || !strings.Contains(body, "witnessed by sari") {
			t.Errorf("%s witnessed by sari: %d\n%s", op, code, errorNote(body))
		}
	}
	byOp := map[string]station.StockOp{}
	for _, op := range f.Ops() {
		byOp[op.Op] = op
	}
	if d := byOp["destroy"]; strings.Join(d.Witnesses, ",") != "ani,sari" || d.Actor != "ani" {
		t.Errorf("destroy: %+v", d)
	}
	if a := byOp["adjust"]; strings.Join(a.Approvers, ",") != "ani,sari" || a.Location != "printer:p1" || a.Quantity != -2 {
		t.Errorf("adjust: %+v", a)
	}
	if s := byOp["shift-close"]; strings.Join(s.Witnesses, ",") != "sari" || s.Counted["storage"] != 40 || s.Counted["printer:p1"] != 17 || s.Counted["printer:p2"] != 3 {
		t.Errorf("shift close: %+v", s)
	}
}

func init() {
	pageRoutes = append(pageRoutes,
		pageRoute{accounts.View, "GET", "/stock/announce", nil},
		pageRoute{accounts.StockRequest, "POST", "/stock/announce", func(accounts.Role) url.Values { return url.Values{} }},
		pageRoute{accounts.StockRequest, "GET", "/stock/request", nil},
		pageRoute{accounts.StockRequest, "POST", "/stock/request", func(accounts.Role) url.Values {
			return url.Values{"quantity": {"500"}, "request_id": {"web-route-test-1"}}
		}})
}

// The fake's day: storage opened with 100, received 500, loaded 120 into
// p1 and 30 into p2; p1 printed 38 cards and 2 test cards and spoiled 3;
// 2 destroyed.
func fakeDay() *inventory.StockReport {
	p := &inventory.Period{Received: 500, Consumed: 38, TestCards: 2, Destroyed: 2, Spoiled: map[string]int64{"jam": 3}, SpoiledClosing: 1,
		Storage: inventory.StoragePeriod{Opening: 100, Received: 500, Loaded: 150, Spoiled: map[string]int64{}, Closing: 450},
		Printers: []inventory.PrinterPeriod{
			{Printer: "p1", Opening: 0, Loaded: 120, Consumed: 38, TestCards: 2, Spoiled: map[string]int64{"jam": 3}, Closing: 77},
			{Printer: "p2", Opening: 5, Loaded: 30, Spoiled: map[string]int64{}, Closing: 35},
		},
		Closing: inventory.Stock{Storage: 450, Printers: map[string]int64{"p1": 77, "p2": 35}, Available: 562},
	}
	return &inventory.StockReport{Station: "ST-TEST-01", Day: "2026-11-30", Period: p}
}

func (f *fakeStation) StockDay(context.Context, time.Time) (*inventory.StockReport, error) {
	return fakeDay(), nil
}

func (f *fakeStation) Announce(_ context.Context, actor string) (station.CentreReport, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "announce "+actor)
	r := station.CentreReport{Kind: "stock", Key: "announce/ST-TEST-01/2026-11-30/9", State: "waiting", Day: "2026-11-30", By: actor}
	fresh := len(f.sent) == 0
	if fresh {
		f.sent = append(f.sent, r)
	}
	return r, fresh, f.err
}

func (f *fakeStation) Announcements(context.Context, int) ([]station.CentreReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]station.CentreReport(nil), f.sent...), nil
}

func (f *fakeStation) BlankForecast(context.Context) (station.Forecast, error) {
	return station.Forecast{Available: 562, WindowDays: 7, Used: 301, PerDay: 43, DaysLeft: 13.1}, nil
}

func (f *fakeStation) RequestBlanks(_ context.Context, req station.BlankRequest) (station.CentreReport, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf("request %s %d %s %q", req.ID, req.Quantity, req.Actor, req.Note))
	for _, r := range f.requests {
		if r.Request.ID == req.ID {
			return r, false, nil
		}
	}
	r := station.CentreReport{Kind: "blank_request", Key: "blanks/ST-TEST-01/" + req.ID, State: "waiting", Request: &req}
	f.requests = append([]station.CentreReport{r}, f.requests...)
	return r, true, f.err
}

func (f *fakeStation) BlankRequests(context.Context, int) ([]station.CentreReport, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]station.CentreReport(nil), f.requests...), nil
}

// The announcement shows the ledger's figures of the day, per place and in
// all, on a printable page; a supervisor sends it to the centre once.
func TestAnnouncementPage(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "sari", Supervisor)
	body := c.get("/stock/announce").Body.String()
	for _, want := range []string{
		`<dd id="ann-received">500</dd>`, `<dd id="ann-loaded">150</dd>`, `<dd id="ann-used">40</dd>`, `<dd id="ann-spoiled">3</dd>`,
		`<dd id="ann-destroyed">2</dd>`, `<dd id="ann-on-hand">562</dd>`, `<dd id="ann-awaiting">1</dd>`,
		`/static/stockops.css`, `data-print`, `id="announce-button"`, "No announcement sent to the centre today yet.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the announcement lacks %s", want)
		}
	}
	row := func(place string) string {
		i := strings.Index(body, `<tr data-place="`+place+`">`)
		if i < 0 {
			t.Fatalf("no row for %s:\n%s", place, body)
		}
		return body[i : i+strings.Index(body[i:], "</tr>")]
	}
	for place, want := range map[string][]string{
		"storage":    {`class="opening">100<`, `class="received">500<`, `class="loaded">150<`, `class="closing">450<`},
		"printer:p1": {`class="loaded">120<`, `class="used">40<`, `class="spoiled">3<`, `class="closing">77<`},
		"printer:p2": {`class="opening">5<`, `class="loaded">30<`, `class="closing">35<`},
	} {
		r := row(place)
		for _, w := range want {
			if !strings.Contains(r, w) {
				t.Errorf("row %s lacks %s: %s", place, w, r)
			}
		}
	}
	if !t.Failed() {
		page := c.next(c.post("/stock/announce", url.Values{}))
		if !strings.Contains(page, "Today&#39;s stock announcement is saved and sent to the centre") || !strings.Contains(page, "Waiting for the centre") {
			t.Errorf("after announcing:\n%s", page)
		}
		if page := c.next(c.post("/stock/announce", url.Values{})); !strings.Contains(page, "nothing is sent twice") {
			t.Errorf("announcing the same figures again:\n%s", page)
		}
		if log := strings.Join(c.acc.people(), "\n"); strings.Count(log, "stock_announce") != 1 {
			t.Errorf("people log: want one stock_announce:\n%s", log)
		}
	}
	// In Indonesian, with the A4 print page's words.
	c.accept = "id"
	body = c.get("/stock/announce").Body.String()
	for _, want := range []string{"<h1>Pengumuman stok harian · ST-TEST-01</h1>", "Dimuat ke printer", "Dimusnahkan", "Stok akhir", "Menunggu pusat"} {
		if !strings.Contains(body, want) {
			t.Errorf("the Indonesian announcement lacks %q", want)
		}
	}
	// An operator reads and prints it but does not send it.
	o := signedIn(t, f, "ani", Operator)
	if body := o.get("/stock/announce").Body.String(); strings.Contains(body, `id="announce-button"`) || !strings.Contains(body, `id="ann-on-hand"`) {
		t.Errorf("the operator's announcement page:\n%s", body)
	}
}

// The request page states the forecast and how it is worked out; a
// request is sent with the form's id, so the same form posted twice is
// one request, and it shows as waiting until the centre answers.
func TestRequestForBlanksPage(t *testing.T) {
	f := newFake()
	c := signedIn(t, f, "sari", Supervisor)
	body := c.get("/stock/request").Body.String()
	for _, want := range []string{`<dd id="fc-available">562</dd>`, `<dd id="fc-used">301</dd>`, `<dd id="fc-per-day">43</dd>`, `<dd id="fc-days-left">13.1</dd>`,
		"in the last 7 days ÷ 7", `id="link-down"`, "No request for blanks yet."} {
		if !strings.Contains(html.UnescapeString(body), html.UnescapeString(want)) {
			t.Errorf("the request page lacks %s", want)
		}
	}
	id := regexp.MustCompile(`name="request_id" value="([^"]+)"`).FindStringSubmatch(body)
	if id == nil {
		t.Fatalf("the form carries no request id:\n%s", body)
	}
	if rec := c.post("/stock/request", url.Values{"request_id": {id[1]}, "quantity": {"lima ratus"}}); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "Number of blanks: write a whole number, 1 or more") {
		t.Errorf("a quantity in words: %d\n%s", rec.Code, errorNote(rec.Body.String()))
	}
	if rec := c.post("/stock/request", url.Values{"request_id": {"x"}, "quantity": {"500"}}); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "reload the page") {
		t.Errorf("a damaged request id: %d\n%s", rec.Code, errorNote(rec.Body.String()))
	}
	for i := 0; i < 2; i++ { // a double click
		page := c.next(c.post("/stock/request", url.Values{"request_id": {id[1]}, "quantity": {"500"}, "note": {"stok menipis"}}))
		if !strings.Contains(page, "The request for 500 blanks is saved") {
			t.Fatalf("after the request:\n%s", page)
		}
	}
	page := c.get("/stock/request").Body.String()
	if n := strings.Count(page, `data-state="waiting" data-id="`+id[1]+`"`); n != 1 {
		t.Errorf("the request shows %d times as waiting, want once:\n%s", n, page)
	}
	// The centre's answer, as the page shows it.
	f.mu.Lock()
	f.requests[0].State, f.requests[0].Ref = "acknowledged", "PB-ST-TEST-01-0001"
	f.mu.Unlock()
	c.accept = "id"
	page = c.get("/stock/request").Body.String()
	if !strings.Contains(page, "Diterima pusat, nomor PB-ST-TEST-01-0001") || !strings.Contains(page, "<h1>Permintaan blangko</h1>") || !strings.Contains(page, "Cara menghitung") {
		t.Errorf("the acknowledged request in Indonesian:\n%s", page)
	}
	f.central = station.CentralLink{State: "off"}
	if page := c.get("/stock/request").Body.String(); !strings.Contains(page, "[central] url kosong") {
		t.Errorf("a station without a centre does not say so:\n%s", page)
	}
	if log := strings.Join(c.acc.people(), "\n"); strings.Count(log, "action sari stock_request "+id[1]) != 1 {
		t.Errorf("people log lacks the request:\n%s", log)
	}
}
