package station

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station/localapi"
)

// actionBody is what a batch or job action sends: a reason where the
// action needs one (cancel, confirm, spoil), and optionally the actor's
// name, which must be who signed in.
type actionBody struct {
	Actor  string `json:"actor,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// reasonedCall reads a person's action once the role table allows p: the
// ledger records who signed in, so a name in the body must be theirs, and
// the reason (required where the action needs one) is one line the people
// log keeps.
func reasonedCall(w http.ResponseWriter, r *http.Request, p accounts.Permission, action string) (Caller, string, bool) {
	c, ok := allowed(w, r, p)
	if !ok {
		return c, "", false
	}
	var b actionBody
	if err := readJSON(r, &b); err != nil {
		writeErr(w, 400, err)
		return c, "", false
	}
	if err := sameActor(c, b.Actor); err != nil {
		writeErr(w, 403, err)
		return c, "", false
	}
	if err := CheckReason(action, b.Reason); err != nil {
		writeErr(w, 400, err)
		return c, "", false
	}
	return c, strings.TrimSpace(b.Reason), true
}

// batchPermission is the permission a batch action needs.
func batchPermission(action string) accounts.Permission {
	if action == "cancel" {
		return accounts.BatchCancel
	}
	return accounts.BatchRun
}

// jobPermission is the permission an action on a waiting job needs:
// settling an uncertain card is a supervisor's decision.
func jobPermission(action string) accounts.Permission {
	if action == "retry" {
		return accounts.JobRetry
	}
	return accounts.JobDecide
}

// NeedsReason says whether a batch or job action must give a reason that
// the people log keeps.
func NeedsReason(action string) bool {
	return action == "cancel" || action == "confirm" || action == "spoil"
}

// CheckReason checks a person's reason: one line of text, at most 200
// characters, present when the action needs one.
func CheckReason(action, reason string) error {
	reason = strings.TrimSpace(reason)
	if NeedsReason(action) && reason == "" {
		return fmt.Errorf("%s needs a reason: say why, the log keeps it", action)
	}
	if utf8.RuneCountInString(reason) > 200 || strings.ContainsAny(reason, "\n\r\x00") {
		return fmt.Errorf("the reason must be one line of at most 200 characters")
	}
	return nil
}

// logAction puts a person's action in the people log. The action itself
// is already done; a failure here is reported so the person knows the log
// misses it.
func logAction(ctx context.Context, acc *accounts.Store, e inventory.Event) error {
	if err := acc.Log(ctx, e); err != nil {
		return fmt.Errorf("done, but the people log could not record it (%w): tell the technician", err)
	}
	return nil
}

func (e *Engine) routes(mux *http.ServeMux, acc *accounts.Store) {
	view := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, ok := allowed(w, r, accounts.View); ok {
				h(w, r)
			}
		}
	}
	mux.HandleFunc("GET /v1/events", view(e.hub.serveEvents))
	mux.HandleFunc("GET /v1/outbox", view(e.serveOutbox))
	e.witnessRoutes(mux, acc) // checks the role table itself
	mux.HandleFunc("GET /v1/batches", view(func(w http.ResponseWriter, r *http.Request) {
		bs, err := e.Batches(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, bs)
	}))
	mux.HandleFunc("POST /v1/batches/{id}/{action}", func(w http.ResponseWriter, r *http.Request) {
		id, action := r.PathValue("id"), r.PathValue("action")
		c, reason, ok := reasonedCall(w, r, batchPermission(action), action)
		if !ok {
			return
		}
		if err := e.SetBatch(r.Context(), id, action, c.Name); err != nil {
			code := 409
			if errors.Is(err, ErrNoBatch) {
				code = 404
			}
			writeErr(w, code, err)
			return
		}
		if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
			Action: "batch_" + action, Subject: id, Reason: reason}); err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, map[string]string{"batch": id, "action": action, "by": c.Name})
	})
	mux.HandleFunc("GET /v1/attention", view(func(w http.ResponseWriter, r *http.Request) {
		as, err := e.AttentionList(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, as)
	}))
	mux.HandleFunc("POST /v1/attention/{job}/{action}", func(w http.ResponseWriter, r *http.Request) {
		job, action := r.PathValue("job"), r.PathValue("action")
		c, reason, ok := reasonedCall(w, r, jobPermission(action), action)
		if !ok {
			return
		}
		var err error
		var uid string
		switch action {
		case "confirm":
			uid, err = e.Confirm(r.Context(), job, c.Name)
		case "spoil":
			err = e.Spoil(r.Context(), job, c.Name)
		case "retry":
			err = e.Retry(r.Context(), job, c.Name)
		default:
			err = fmt.Errorf("action %q: expected confirm, spoil or retry", action)
		}
		if err != nil {
			code := 409
			if errors.Is(err, jobqueue.ErrNotFound) {
				code = 404
			}
			writeErr(w, code, err)
			return
		}
		if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
			Action: "job_" + action, Job: job, Reason: reason}); err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, map[string]string{"job": job, "action": action, "uid": uid, "by": c.Name})
	})
	mux.HandleFunc("POST /v1/printers/{name}/resume", func(w http.ResponseWriter, r *http.Request) {
		c, ok := allowed(w, r, accounts.PrinterResume)
		if !ok {
			return
		}
		name := r.PathValue("name")
		if err := e.ResumePrinter(name); err != nil {
			writeErr(w, 404, err)
			return
		}
		if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
			Action: "printer_resume", Printer: name}); err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, map[string]string{"printer": name, "action": "resume", "by": c.Name})
	})
	mux.HandleFunc("POST /v1/printers/{name}/diag/{op}", func(w http.ResponseWriter, r *http.Request) {
		// A technician's operation on a printer the daemon drives: it
		// holds the printer like a card; a test card's blank is a ledger
		// event. Reads need only view; the actions (guidance.go) are the
		// technician's (printer.diag).
		name, op := r.PathValue("name"), r.PathValue("op")
		c, ok := allowed(w, r, DiagPermission(op))
		if !ok {
			return
		}
		res, err := e.PrinterDiag(r.Context(), name, op, c.Name)
		if err != nil {
			// In the journal as the page's refused buttons are; the
			// people log keeps only what was done.
			e.log.Warn().Err(err).Str("printer", name).Str("op", op).Str("role", c.roles()).Msg("technician's action through the socket not done")
			writeErr(w, 409, err)
			return
		}
		if err := logAction(r.Context(), acc, inventory.Event{Kind: inventory.ActionTaken, Actor: c.Name, Via: inventory.ViaSocket,
			Action: "printer_diag_" + op, Printer: name}); err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, res)
	})
	mux.HandleFunc("GET /v1/printers/{name}/health", view(func(w http.ResponseWriter, r *http.Request) {
		h, err := e.PrinterHealth(r.Context(), r.PathValue("name"))
		if err != nil {
			writeErr(w, 404, err)
			return
		}
		writeJSON(w, 200, h)
	}))
	mux.HandleFunc("GET /v1/stock", view(func(w http.ResponseWriter, r *http.Request) {
		s, err := e.Stock(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, s)
	}))
	mux.HandleFunc("POST /v1/stock", func(w http.ResponseWriter, r *http.Request) {
		var op StockOp
		if err := readJSON(r, &op); err != nil {
			writeErr(w, 400, err)
			return
		}
		p := StockPermission(op.Op)
		c, ok := allowed(w, r, p)
		if !ok {
			return
		}
		if err := sameActor(c, op.Actor); err != nil {
			writeErr(w, 403, err)
			return
		}
		op.Actor = c.Name
		if p == accounts.StockControl {
			wit, err := witness(r.Context(), acc, r)
			if err != nil {
				code := 401
				if errors.Is(err, accounts.ErrNeedWitness) {
					code = 400
					err = fmt.Errorf("%s is dual control: the second person signs in in the same action (printstationctl: --witness NAME, then their secret)", op.Op)
				}
				writeErr(w, code, err)
				return
			}
			if err := accounts.Pair(c.Account, wit, p); err != nil {
				writeErr(w, 403, err)
				return
			}
			if err := DualControl(&op, wit.Name); err != nil {
				writeErr(w, 400, err)
				return
			}
		} else if len(op.Witnesses)+len(op.Approvers) > 0 {
			writeErr(w, 400, fmt.Errorf("%s takes no witnesses or approvers", op.Op))
			return
		}
		var en inventory.Entry
		var err error
		if op.Op == "spoil" {
			en, err = e.SpoilBlanks(r.Context(), op.Actor, op.Quantity)
		} else {
			en, err = e.RecordStock(r.Context(), op)
		}
		if err != nil {
			code := 400
			if errors.Is(err, inventory.ErrRefused) {
				code = 409
			}
			writeErr(w, code, err)
			return
		}
		writeJSON(w, 200, map[string]any{"seq": en.Seq, "op": op.Op, "by": c.Name})
	})
	e.stockReportRoutes(mux, acc)
	userRoutes(mux, acc)
}

// StockPermission is what a stock operation needs of its first person.
func StockPermission(op string) accounts.Permission {
	switch op {
	case "destroy", "adjust", "shift-close":
		return accounts.StockControl
	}
	return accounts.StockMove
}

// DualControl names the two authenticated people of a dual-control stock
// operation in the ledger's fields: destroy and adjust record both, a
// shift close its witness. Names typed into the request are refused: only
// people who signed in are recorded.
func DualControl(op *StockOp, witness string) error {
	if len(op.Witnesses)+len(op.Approvers) > 0 {
		return fmt.Errorf("%s: witnesses and approvers are the people who sign in, not names in the request", op.Op)
	}
	switch op.Op {
	case "destroy":
		op.Witnesses = []string{op.Actor, witness}
	case "adjust":
		op.Approvers = []string{op.Actor, witness}
	case "shift-close":
		op.Witnesses = []string{witness}
	}
	return nil
}

// UserBody is what the account commands send.
type UserBody = localapi.UserBody

func userRoutes(mux *http.ServeMux, acc *accounts.Store) {
	mux.HandleFunc("GET /v1/users", func(w http.ResponseWriter, r *http.Request) {
		if _, ok := allowed(w, r, accounts.ManageUsers); !ok {
			return
		}
		as, err := acc.List(r.Context())
		if err != nil {
			writeErr(w, 500, err)
			return
		}
		writeJSON(w, 200, as)
	})
	mux.HandleFunc("POST /v1/users/{action}", func(w http.ResponseWriter, r *http.Request) {
		var b UserBody
		if err := readJSON(r, &b); err != nil {
			writeErr(w, 400, err)
			return
		}
		action := r.PathValue("action")
		c := CallerOf(r)
		// Anyone may change their own secret; everything else is an admin's.
		self := action == "passwd" && !c.Root && strings.EqualFold(b.Name, c.Name)
		if !self {
			if _, ok := allowed(w, r, accounts.ManageUsers); !ok {
				return
			}
		}
		ctx, by := r.Context(), c.by()
		var err error
		switch action {
		case "add":
			var roles []accounts.Role
			if roles, err = accounts.ParseRoles(b.Roles); err == nil {
				err = acc.Add(ctx, by, b.Name, roles, []byte(b.Secret))
			}
		case "roles":
			var roles []accounts.Role
			if roles, err = accounts.ParseRoles(b.Roles); err == nil {
				err = acc.SetRoles(ctx, by, b.Name, roles)
			}
		case "disable", "enable":
			err = acc.SetDisabled(ctx, by, b.Name, action == "disable")
		case "unlock":
			err = acc.Unlock(ctx, by, b.Name)
		case "passwd":
			err = acc.SetSecret(ctx, by, b.Name, []byte(b.Secret))
		case "map-uid":
			if b.UID == nil {
				err = errors.New("map-uid needs a uid")
			} else {
				err = acc.MapUID(ctx, by, *b.UID, b.Name)
			}
		default:
			writeErr(w, 404, fmt.Errorf("user action %q: expected add, list, disable, enable, unlock, passwd, roles or map-uid", action))
			return
		}
		if err != nil {
			code := 400
			switch {
			case errors.Is(err, accounts.ErrNoAccount):
				code = 404
			case errors.Is(err, accounts.ErrExists):
				code = 409
			}
			writeErr(w, code, err)
			return
		}
		out := map[string]string{"user": b.Name, "action": action, "by": by.Name}
		if b.UID != nil {
			out["uid"] = strconv.Itoa(*b.UID)
		}
		writeJSON(w, 200, out)
	})
}
