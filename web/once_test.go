package web

import (
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"printstation/station"
)

var onceRE = regexp.MustCompile(`name="once" value="([0-9a-f]{32})"`)

// onceOf is the one-use token of the forms on a page.
func onceOf(t *testing.T, page string) string {
	t.Helper()
	m := onceRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the page's forms carry no one-use token:\n%s", page)
	}
	return m[1]
}

// A double click on a stock form, or the browser sending it again, is one
// ledger entry: 300 blanks received once, not 600; the second arrival is
// told so in the person's language. A new drawing of the page has a new
// token, so the next delivery is recorded.
func TestStockFormSentTwiceIsRecordedOnce(t *testing.T) {
	for _, lg := range []struct{ code, says string }{
		{"en", "This form was sent before and is recorded once only."},
		{"id", "Formulir ini sudah terkirim sebelumnya dan hanya dicatat sekali."},
	} {
		f := newOpsFake()
		c := signedIn(t, f, "ani", Operator)
		if lg.code == "id" {
			c.accept = "id"
		}
		tok := onceOf(t, c.get("/stock").Body.String())
		form := func() url.Values {
			return url.Values{"op": {"receive"}, "quantity": {"300"}, "delivery_ref": {"SJ-1"}, "once": {tok}}
		}
		c.next(c.post("/stock", form()))
		page := c.next(c.post("/stock", form()))
		if n := len(f.Ops()); n != 1 {
			t.Fatalf("%s: the same form sent twice made %d stock operations, want 1: %+v", lg.code, n, f.Ops())
		}
		if !strings.Contains(page, lg.says) {
			t.Errorf("%s: the second arrival is not explained:\n%s", lg.code, textOf(page))
		}
		if next := onceOf(t, page); next == tok {
			t.Fatalf("%s: a new drawing of the page kept the used token", lg.code)
		} else {
			c.next(c.post("/stock", url.Values{"op": {"receive"}, "quantity": {"5"}, "delivery_ref": {"SJ-2"}, "once": {next}}))
		}
		if ops := f.Ops(); len(ops) != 2 || !reflect.DeepEqual(ops[1], station.StockOp{Op: "receive", Quantity: 5, DeliveryRef: "SJ-2", Actor: "ani"}) {
			t.Errorf("%s: the next form with its fresh token: %+v", lg.code, ops)
		}
	}
}

// A technician's test card pressed twice (a double click) feeds one blank.
func TestTestCardSentTwiceIsOneCard(t *testing.T) {
	f := newFake()
	f.printers = append(f.printers, station.PrinterState{Name: "p3", State: "idle"})
	c := signedIn(t, f, "tek", "technician")
	tok := onceOf(t, c.get("/tech").Body.String())
	for range 2 {
		c.next(c.post("/tech", url.Values{"printer": {"p3"}, "op": {"test-card"}, "back": {"/tech"}, "once": {tok}}))
	}
	var cards int
	for _, call := range f.Calls() {
		if strings.HasPrefix(call, "diag p3 test-card") {
			cards++
		}
	}
	if cards != 1 {
		t.Errorf("one test card form sent twice reached the engine %d times: %q", cards, f.Calls())
	}
}
