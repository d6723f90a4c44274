package web

// The supervisor's and storekeeper's stock screens (issue 15, part 3):
// every stock operation on /stock through one form handler, the daily
// stock announcement (/stock/announce) and the request for more blanks to
// the centre (/stock/request).
//
// One handler for every operation: the operation's permission comes from
// station.StockPermission, the same function the local API (and so
// printstationctl stock) uses; an operation that needs stock.control is
// dual control, and its witness signs in on the same form and is paired
// with accounts.Pair, then named by station.DualControl, as on the API.
// The page never builds a ledger event itself: it hands station.RecordStock
// the same StockOp the CLI sends.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station"
)

// stockRoutes registers the supervisor's stock screens (issue 15, part 3).
// POST /stock itself is registered with GET /stock in web.New.
func (h *handler) stockRoutes() {
	// The announcement is for everyone who works at the station to read
	// and print; sending it to the centre is a supervisor's.
	h.mux.HandleFunc("GET /stock/announce", h.gatedPage(accounts.View, h.showAnnounce))
	h.mux.HandleFunc("POST /stock/announce", h.announce)
	h.mux.HandleFunc("GET /stock/request", h.gatedPage(accounts.StockRequest, h.showRequest))
	h.mux.HandleFunc("POST /stock/request", h.request)
}

// MaxPageQuantity bounds a quantity typed on the page: no delivery, load
// or count at one station comes near it, and the ledger's own bound is far
// higher.
const MaxPageQuantity = 1_000_000

// stockForm is one operation's part of the form handler: how its fields
// are read and the outcome's words.
type stockForm struct {
	done string // outcome message id
	read func(f *form, op *station.StockOp)
}

// stockForms are the operations the page records.
var stockForms = map[string]stockForm{
	"receive": {done: msg("stockops_done_receive"), read: func(f *form, op *station.StockOp) {
		op.Quantity = f.whole("quantity", f.l.T("stockops_quantity_received"), 1)
		op.DeliveryRef = f.ledgerText("delivery_ref", f.l.T("stockops_delivery_ref"), true, 100)
		op.SerialFirst = f.ledgerText("serial_first", f.l.T("stockops_serial_first"), false, 60)
		op.SerialLast = f.ledgerText("serial_last", f.l.T("stockops_serial_last"), false, 60)
		if (op.SerialFirst == "") != (op.SerialLast == "") {
			label := f.l.T("stockops_serial_last")
			if op.SerialFirst == "" {
				label = f.l.T("stockops_serial_first")
			}
			f.fail(label, msg("stockops_bad_serials"))
		}
	}},
	"load": {done: msg("stockops_done_load"), read: func(f *form, op *station.StockOp) {
		op.Printer = f.printer("printer", f.l.T("stockops_printer"))
		op.Quantity = f.whole("quantity", f.l.T("stockops_quantity_load"), 1)
	}},
	"unload": {done: msg("stockops_done_unload"), read: func(f *form, op *station.StockOp) {
		op.Printer = f.printer("printer", f.l.T("stockops_printer"))
		op.Quantity = f.whole("quantity", f.l.T("stockops_quantity_unload"), 1)
	}},
	"destroy": {done: msg("control_done_destroy"), read: func(f *form, op *station.StockOp) {
		// The cards ticked by their chip UID (audit.go lists them) go in
		// the ledger with the destruction, so its berita acara names
		// them; a count alone is for cards whose chip was never read.
		op.UIDs = f.uids("uid", f.l.T("control_destroy_cards"))
		if len(op.UIDs) == 0 || strings.TrimSpace(f.r.PostFormValue("quantity")) != "" {
			op.Quantity = f.whole("quantity", f.l.T("control_quantity"), 1)
		}
		// One destruction is either the cards ticked or a count of cards
		// without a UID (the ledger keeps one or the other): a count
		// besides ticked cards would be refused by the ledger in English.
		if len(op.UIDs) > 0 && op.Quantity > 0 && op.Quantity != int64(len(op.UIDs)) {
			f.fail(f.l.T("control_quantity"), msg("control_bad_count_with_uids"), "N", f.l.Num(int64(len(op.UIDs))))
		}
		op.RecordRef = f.ledgerText("record_ref", f.l.T("control_record_ref"), true, 100)
	}},
	"adjust": {done: msg("control_done_adjust"), read: func(f *form, op *station.StockOp) {
		op.Location = f.location("location", f.l.T("control_location"))
		op.Quantity = f.change("quantity", f.l.T("control_change"))
		op.Reason = f.ledgerText("reason", f.l.T("control_reason"), true, 200)
	}},
	"shift-close": {done: msg("control_done_shift_close"), read: func(f *form, op *station.StockOp) {
		op.Counted = map[string]int64{}
		op.Counted[inventory.Storage] = f.whole("counted_"+inventory.Storage, f.l.T("control_counted_storage"), 0)
		for _, p := range f.printers {
			loc := inventory.InPrinter(p)
			op.Counted[loc] = f.whole("counted_"+loc, f.l.T("control_counted_printer", "Name", p), 0)
		}
	}},
}

// form reads a posted form's fields; the first bad one is kept, named by
// its label as the page shows it, in the person's language.
type form struct {
	r        *http.Request
	l        *lang
	printers []string
	bad      string
}

func (f *form) fail(label, problem string, kv ...any) {
	if f.bad == "" {
		f.bad = f.l.T("stockops_err_field", "What", label, "Why", f.l.T(problem, kv...))
	}
}

// text reads a line of text of at most max characters.
func (f *form) text(name, label string, required bool, max int) string {
	v := strings.TrimSpace(f.r.PostFormValue(name))
	switch {
	case required && v == "":
		f.fail(label, msg("stockops_bad_empty"))
	case !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n"):
		f.fail(label, msg("stockops_bad_text"))
	case utf8.RuneCountInString(v) > max:
		f.fail(label, msg("stockops_bad_too_long"), "N", f.l.Num(max))
	}
	return v
}

// maxLedgerText is the ledger's bound on a text field, in bytes
// (inventory refuses longer ones): a letter outside ASCII takes two to
// four, so a text within its character bound can still be too long.
const maxLedgerText = 256

// ledgerText is text for a field the ledger keeps: also within the
// ledger's byte bound, refused here in the person's language rather than
// by the ledger in English.
func (f *form) ledgerText(name, label string, required bool, max int) string {
	v := f.text(name, label, required, max)
	if len(v) > maxLedgerText {
		f.fail(label, msg("stockops_bad_too_long_bytes"))
	}
	return v
}

// number reads a whole number; ok is false (and the refusal kept) when the
// field is empty or not a whole number within MaxPageQuantity.
func (f *form) number(name, label, problem string, kv ...any) (int64, bool) {
	v := strings.TrimSpace(f.r.PostFormValue(name))
	v = strings.Replace(v, "−", "-", 1) // the minus sign a phone keyboard may give
	if v == "" {
		f.fail(label, msg("stockops_bad_empty"))
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		f.fail(label, problem, kv...)
		return 0, false
	}
	if n > MaxPageQuantity || n < -MaxPageQuantity {
		f.fail(label, msg("stockops_bad_too_big"), "N", f.l.Num(MaxPageQuantity))
		return 0, false
	}
	return n, true
}

// whole reads a whole number of at least min.
func (f *form) whole(name, label string, min int64) int64 {
	n, ok := f.number(name, label, msg("stockops_bad_whole_min"), "N", f.l.Num(min))
	if ok && n < min {
		f.fail(label, msg("stockops_bad_whole_min"), "N", f.l.Num(min))
	}
	return n
}

// maxDestroyUIDs bounds the cards ticked in one destruction.
const maxDestroyUIDs = 1000

// uids reads the chip UIDs ticked on the form: hex, as the ledger keeps them.
func (f *form) uids(name, label string) []string {
	vs := f.r.PostForm[name]
	if len(vs) > maxDestroyUIDs {
		f.fail(label, msg("control_bad_uids"))
		return nil
	}
	for _, v := range vs {
		if len(v) < 8 || len(v) > 40 || strings.Trim(v, "0123456789ABCDEFabcdef") != "" {
			f.fail(label, msg("control_bad_uids"))
			return nil
		}
	}
	return vs
}

// change reads an adjustment: a whole number other than zero.
func (f *form) change(name, label string) int64 {
	n, ok := f.number(name, label, msg("stockops_bad_change"))
	if ok && n == 0 {
		f.fail(label, msg("stockops_bad_change"))
	}
	return n
}

// printer reads one of this station's printers.
func (f *form) printer(name, label string) string {
	v := f.r.PostFormValue(name)
	for _, p := range f.printers {
		if v == p {
			return v
		}
	}
	f.fail(label, msg("stockops_bad_choice"))
	return ""
}

// location reads the storage or one of this station's printers.
func (f *form) location(name, label string) string {
	v := f.r.PostFormValue(name)
	if v == inventory.Storage {
		return v
	}
	for _, p := range f.printers {
		if v == inventory.InPrinter(p) {
			return v
		}
	}
	f.fail(label, msg("stockops_bad_choice"))
	return ""
}

// stock records a stock operation from the page. The signed-in person is
// the first; for dual control the witness signs in in the same form.
func (h *handler) stock(w http.ResponseWriter, r *http.Request) {
	s, l := h.post(w, r, true)
	if s == nil {
		return
	}
	refuse := func(code int, text, detail string) {
		h.showStock(w, r, s, l, code, &note{Err: true, Text: text, Detail: detail})
	}
	opName := r.PostFormValue("op")
	sf, known := stockForms[opName]
	if !known {
		if !h.allowed(w, r, s, l, accounts.StockMove) {
			return
		}
		refuse(http.StatusBadRequest, l.T("control_err_op"), "")
		return
	}
	perm := station.StockPermission(opName)
	if !h.allowed(w, r, s, l, perm) {
		return
	}
	op := station.StockOp{Op: opName, Actor: s.Name}
	f := &form{r: r, l: l}
	for _, p := range h.st.Printers() {
		f.printers = append(f.printers, p.Name)
	}
	sf.read(f, &op)
	if f.bad == "" && len(op.UIDs) > 0 {
		h.awaitingOnly(r.Context(), f, op.UIDs)
	}
	if f.bad != "" {
		refuse(http.StatusBadRequest, f.bad, "")
		return
	}
	if !h.once.claim(r.PostFormValue("once"), h.opts.Now()) {
		// The same form again (a double click): recorded once already.
		h.notes.put(s.id, note{Text: l.T("form_sent_before")})
		http.Redirect(w, r, "/stock", http.StatusSeeOther)
		return
	}
	witness := ""
	if perm == accounts.StockControl {
		wit, ok := h.witness(w, r, s, l, perm, refuse)
		if !ok {
			return
		}
		if err := station.DualControl(&op, wit); err != nil {
			refuse(http.StatusForbidden, l.T("control_err_refused"), err.Error())
			return
		}
		witness = wit
	}
	en, err := h.st.RecordStock(r.Context(), op)
	if err != nil {
		refuse(http.StatusConflict, l.T("control_err_refused"), err.Error())
		return
	}
	h.log.Info().Str("op", op.Op).Int64("seq", en.Seq).Bool("dual_control", witness != "").Msg("stock operation from the web page")
	h.notes.put(s.id, note{Text: l.T(sf.done, "Name", s.Name, "Witness", witness, "Seq", l.Num(en.Seq),
		"N", l.Num(op.Quantity), "Printer", op.Printer)})
	http.Redirect(w, r, "/stock", http.StatusSeeOther)
}

// awaitingOnly refuses ticked chip UIDs that no spoiled card awaiting
// destruction has: the ledger would take any well-formed UID, and a card
// never spoiled, one destroyed already or one ticked twice would be
// counted as destroyed and named on the berita acara. Each awaiting card
// is taken once. When the waiting cards cannot be read here the form
// offers none, and a UID sent anyway is refused.
func (h *handler) awaitingOnly(ctx context.Context, f *form, uids []string) {
	label := f.l.T("control_destroy_cards")
	waiting := map[string]int{}
	if h.opts.AuditDB != nil {
		ctx, cancel := context.WithTimeout(ctx, auditTimeout)
		defer cancel()
		sp, err := h.currentSpoilage(ctx, h.opts.AuditDB)
		if err != nil {
			h.log.Warn().Err(err).Msg("the spoiled cards could not be read to check a destruction by UID")
		} else {
			for _, c := range sp.Awaiting {
				waiting[strings.ToUpper(c.UID)]++
			}
		}
	}
	for _, u := range uids {
		u = strings.ToUpper(u)
		if waiting[u] == 0 {
			f.fail(label, msg("control_uid_not_waiting"), "ID", u)
			return
		}
		waiting[u]--
	}
}

// witness signs the second person of a dual-control action in from the
// form's witness_name and witness_secret and pairs them with the signed-in
// person for perm (accounts.Pair: two different people, the second holding
// the witness permission). It answers the refusal itself and returns false
// when they may not act together.
func (h *handler) witness(w http.ResponseWriter, r *http.Request, s *session, l *lang, perm accounts.Permission, refuse func(code int, text, detail string)) (string, bool) {
	f := r.PostFormValue
	wname, wsecret := strings.TrimSpace(f("witness_name")), f("witness_secret")
	if wname == "" || wsecret == "" || len(wsecret) > maxSecretField {
		refuse(http.StatusBadRequest, l.T("control_err_no_witness"), "")
		return "", false
	}
	wit, err := h.acc.SignIn(r.Context(), wname, []byte(wsecret), inventory.ViaWeb)
	if err != nil {
		why := l.T("signin_err_refused")
		var se *accounts.SignInError
		if !errors.As(err, &se) {
			h.log.Error().Err(err).Msg("the witness's sign-in could not be checked")
			why = l.T("signin_err_unchecked")
		} else if se.Reason == accounts.FailLocked || se.Reason == accounts.FailNowLock {
			why = l.T("signin_err_locked")
		} else if se.Reason == accounts.FailDisabled {
			why = l.T("signin_err_disabled")
		}
		refuse(http.StatusUnauthorized, l.T("control_err_witness", "Why", why), "")
		return "", false
	}
	a, err := h.acc.Get(r.Context(), s.Name)
	if err != nil {
		h.log.Error().Err(err).Msg("the first person's account could not be read for a dual-control action")
		refuse(http.StatusServiceUnavailable, l.T("control_err_not_done"), err.Error())
		return "", false
	}
	if err := accounts.Pair(a, wit, perm); err != nil {
		switch {
		case errors.Is(err, accounts.ErrSamePerson):
			refuse(http.StatusForbidden, l.T("control_err_same"), "")
		case !accounts.Allows(wit.Roles, accounts.Witness):
			var roles []string
			for _, ro := range accounts.RolesWith(accounts.Witness) {
				roles = append(roles, l.T("role_"+string(ro)))
			}
			refuse(http.StatusForbidden, l.T("control_err_witness_role", "Name", wit.Name, "Roles", strings.Join(roles, " / ")), "")
		default:
			refuse(http.StatusForbidden, l.T("control_err_not_done"), err.Error())
		}
		return "", false
	}
	return wit.Name, true
}
