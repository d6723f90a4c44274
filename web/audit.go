package web

// The auditor's screens (issue 15, part 2), for the people holding
// audit.read (supervisor, auditor). They only read: the station database
// is handed to them opened read-only (Options.AuditDB; the daemon opens
// its own file with mode=ro, so SQLite itself refuses a write), and every
// figure comes from the same inventory functions as `printstationctl
// audit` (Verify, Summarize, ExportLog) or from inventory's readers for
// these screens (Checkpoints, SpoiledAndDestroyed, Events). Besides the
// database they read the centre's witness record (verification) and, for
// a reconciliation that reaches now, each printer's counters between
// cards (the technician's PrinterHealth). Chip UIDs are shown to the
// auditor, as the destruction record needs them, and never written to
// the daemon's log.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	sumnote "golang.org/x/mod/sumdb/note"

	"printstation/accounts"
	"printstation/inventory"
	"printstation/station"
)

// auditRoutes registers the auditor's screens (issue 15, part 2).
func (h *handler) auditRoutes() {
	h.mux.HandleFunc("GET /audit", h.gatedPage(accounts.AuditRead, h.showVerify))
	h.mux.HandleFunc("GET /audit/reconcile", h.gatedPage(accounts.AuditRead, h.showReconcile))
	h.mux.HandleFunc("GET /audit/spoiled", h.gatedPage(accounts.AuditRead, h.showSpoiled))
	h.mux.HandleFunc("GET /audit/export", h.gatedPage(accounts.AuditRead, h.showExport))
	h.mux.HandleFunc("GET /audit/download", h.gatedPage(accounts.AuditRead, h.download))
	h.mux.HandleFunc("GET /audit/people", h.gatedPage(accounts.AuditRead, h.showPeople))
	h.mux.HandleFunc("GET /audit/berita-acara/{seq}", h.gatedPage(accounts.AuditRead, h.showBeritaAcara))
	h.mux.HandleFunc("GET /audit/monthly", h.gatedPage(accounts.AuditRead, h.showMonthly))
}

// centreRecorder is what the verification needs of the engine to compare
// the ledger with the centre's own record of what it cosigned
// (*station.Engine has it). Without it, or while the centre cannot be
// reached, the page verifies against the cosignatures stored here and
// says that the centre's record was not compared.
type centreRecorder interface {
	CentreRecord(ctx context.Context) (*inventory.CentreExport, error)
}

// centreTimeout bounds the wait for the centre's record.
const centreTimeout = 20 * time.Second

// auditTimeout bounds one audit screen's reading (verify of a million
// events takes seconds; anything longer is a stuck database).
const auditTimeout = 2 * time.Minute

// auditTabs are the auditor's screens, in the order of their menu.
var auditTabs = []struct{ ID, Path, Label string }{
	{"verify", "/audit", msg("audit_tab_verify")},
	{"reconcile", "/audit/reconcile", msg("audit_tab_reconcile")},
	{"spoiled", "/audit/spoiled", msg("audit_tab_spoiled")},
	{"export", "/audit/export", msg("audit_tab_export")},
	{"people", "/audit/people", msg("audit_tab_people")},
	{"monthly", "/audit/monthly", msg("audit_tab_monthly")},
}

type auditTab struct {
	Path, Label string
	Current     bool
}

// auditView is what the auditor's templates get besides the frame.
type auditView struct {
	Tabs []auditTab
	Err  string // the screen could not be read: what to do
	From string // the period's first day, YYYY-MM-DD (forms keep it)
	To   string // its last day, included
	// Asked says the form was sent (the screen shows results only then).
	Asked bool

	Verify      *inventory.VerifyReport
	Warnings    []template.HTML // Verify's warnings in the page's language
	Checkpoints []inventory.CheckpointRow
	CPTotal     int
	CentreKey   bool // the centre's key was configured: cosignatures verified
	// Centre says whether the centre's own record was compared: "ok",
	// "unreachable" (tried, no answer) or "none" (no centre configured).
	Centre      string
	CentreEpoch int64

	Period   *inventory.Period
	Physical []physicalInput
	// Live are the printers' counters read now, for a period that ends
	// today or later (compared with the ledger's expectation).
	Live map[string]liveCounter

	Spoilage *inventory.Spoilage
	Old      map[int64]bool // awaiting cards spoiled more than a day ago, by seq
	OldCount int
	Extra    int64 // listed cards beyond the ledger's count (destroyed by count alone)
	Hidden   int   // waiting cards beyond MaxAwaitingShown, not listed

	People []inventory.ExportRecord
	More   bool

	Destruction *inventory.Destruction
	Place       string
	Others      []string // the witnesses besides the person who destroyed

	Month string // YYYY-MM
	Now   time.Time
}

// physicalInput is one location's physical count on the reconcile form.
type physicalInput struct {
	Loc, Label, Value string
}

func (h *handler) auditFrame(r *http.Request, l *lang, s *session, tab string) (*view, *auditView) {
	v := h.frame(r, l, s, "audit")
	av := &auditView{Now: h.opts.Now()}
	for _, t := range auditTabs {
		av.Tabs = append(av.Tabs, auditTab{Path: t.Path, Label: l.T(t.Label), Current: t.ID == tab})
	}
	v.Audit = av
	return v, av
}

// auditDB is the read-only database, or the reason the screens cannot read.
func (h *handler) auditDB(l *lang) (*sql.DB, string) {
	if h.opts.AuditDB == nil {
		return nil, l.T("audit_err_no_db")
	}
	return h.opts.AuditDB, ""
}

// snapshot reads in one read-only transaction, as `audit reconcile` does:
// one consistent state while the engine appends.
func (h *handler) snapshot(ctx context.Context, db *sql.DB, read func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("audit: read the ledger: %w", err)
	}
	defer tx.Rollback()
	return read(tx)
}

func (h *handler) auditFailed(l *lang, what string, err error) string {
	h.log.Error().Err(err).Str("screen", what).Msg("an audit screen could not read the ledger")
	return l.T("audit_err_read")
}

// centreKey is the centre's cosigning key from the configuration, or nil.
func (h *handler) centreKey() sumnote.Verifier {
	if h.opts.WitnessKey == "" {
		return nil
	}
	v, err := sumnote.NewVerifier(h.opts.WitnessKey)
	if err != nil {
		return nil
	}
	return v
}

// verifySlot lets one verification run at a time: it reads every event
// and uses every core for seconds on a large ledger, and the printers
// must go on meanwhile. A second person's request waits for the slot
// (bounded by its own timeout).
var verifySlot = make(chan struct{}, 1)

// MaxCheckpointRows bounds the checkpoints listed on the page.
const MaxCheckpointRows = 200

func (h *handler) showVerify(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "verify")
	av.Asked = r.URL.Query().Get("run") == "1"
	db, why := h.auditDB(l)
	if why != "" {
		av.Err = why
	} else if av.Asked {
		ctx, cancel := context.WithTimeout(r.Context(), auditTimeout)
		defer cancel()
		select {
		case verifySlot <- struct{}{}:
			defer func() { <-verifySlot }()
		case <-ctx.Done():
			av.Err = l.T("audit_err_busy")
			h.render(w, l, http.StatusServiceUnavailable, "audit_verify.html", v)
			return
		}
		ck := h.centreKey()
		av.CentreKey = ck != nil
		opt := inventory.VerifyOptions{CentreKey: ck}
		av.Centre = "none"
		if cr, ok := h.st.(centreRecorder); ok {
			cctx, ccancel := context.WithTimeout(ctx, centreTimeout)
			exp, err := cr.CentreRecord(cctx)
			ccancel()
			switch {
			case err == nil:
				opt.Centre, av.Centre = exp, "ok"
			case errors.Is(err, station.ErrNoCentre):
			default:
				av.Centre = "unreachable"
				h.log.Warn().Err(err).Msg("the centre's witness record could not be fetched for the verification on the page")
			}
		}
		rep, err := inventory.Verify(ctx, db, opt)
		if err == nil {
			err = h.snapshot(ctx, db, func(tx *sql.Tx) error {
				var err error
				av.Checkpoints, av.CPTotal, err = inventory.Checkpoints(ctx, tx, ck, MaxCheckpointRows)
				return err
			})
		}
		if err != nil {
			av.Err = h.auditFailed(l, "verify", err)
		} else {
			av.Verify = rep
			av.Warnings = verifyWarnings(l, rep)
			av.CentreEpoch = max(rep.Epoch, 1) // a ledger from before enrolments were recorded is epoch 1, as verify takes it
			h.log.Info().Bool("pass", rep.OK()).Int64("events", rep.Events).Int("problems", len(rep.Problems)+rep.MoreProblems).Msg("ledger verified from the web page")
		}
	}
	h.render(w, l, code, "audit_verify.html", v)
}

// verifyWarnings says verify's warnings in the reader's language from the
// report's own figures; a kind without words here (or without a code, from
// an older report) stays in verify's English, marked as such.
func verifyWarnings(l *lang, rep *inventory.VerifyReport) []template.HTML {
	out := make([]template.HTML, 0, len(rep.Warnings))
	for i, w := range rep.Warnings {
		code := ""
		if i < len(rep.WarningCodes) {
			code = rep.WarningCodes[i]
		}
		var kv []any
		switch code {
		case inventory.WarnTail:
			kv = []any{"N", l.Num(rep.UncheckpointedTail), "Seq", l.Num(rep.LastCheckpoint)}
		case inventory.WarnNoCheckpoint:
			kv = []any{"N", l.Num(rep.Events)}
		}
		out = append(out, l.orEnglish(verifyWarningID(code), w, kv...))
	}
	return out
}

func verifyWarningID(code string) string { return "audit_warn_" + code }

// dayRE is a date as the forms send it.
var dayRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// The years a period or month on these screens may name. The ledger
// keeps times as text compared character by character: a year before
// 1000 or past 9999 would sort wrongly and show a silently empty or
// wrong period, so the page refuses dates outside the years a station
// can have worked in.
const (
	firstAuditYear = 2000
	lastAuditYear  = 2099
)

// auditYear refuses a date outside firstAuditYear..lastAuditYear with
// the field's label; "" when it is in range.
func auditYear(l *lang, label string, t time.Time) string {
	if y := t.Year(); y < firstAuditYear || y > lastAuditYear {
		return l.T("stockops_err_field", "What", label, "Why", l.T("audit_bad_year", "From", strconv.Itoa(firstAuditYear), "To", strconv.Itoa(lastAuditYear)))
	}
	return ""
}

// period reads from/to (days, both included, in the station's time zone)
// from the query; an empty form is today. It returns what is wrong, in
// the page's language and naming the field, when the dates are not
// usable.
func (h *handler) period(r *http.Request, l *lang, av *auditView) (from, to time.Time, bad string) {
	q := r.URL.Query()
	today := h.opts.Now().In(time.Local).Format("2006-01-02")
	av.From, av.To = strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to"))
	av.Asked = av.From != "" || av.To != ""
	if av.From == "" {
		av.From = today
	}
	if av.To == "" {
		av.To = today
	}
	var days [2]time.Time
	for i, d := range []struct{ v, label string }{{av.From, l.T("audit_from")}, {av.To, l.T("audit_to")}} {
		t, err := time.ParseInLocation("2006-01-02", d.v, time.Local)
		if !dayRE.MatchString(d.v) || err != nil {
			return time.Time{}, time.Time{}, l.T("stockops_err_field", "What", d.label, "Why", l.T("audit_err_date"))
		}
		if bad := auditYear(l, d.label, t); bad != "" {
			return time.Time{}, time.Time{}, bad
		}
		days[i] = t
	}
	f, t := days[0], days[1].AddDate(0, 0, 1) // the last day is included, as in audit reconcile
	if !f.Before(t) {
		return time.Time{}, time.Time{}, l.T("audit_err_order")
	}
	return f, t, ""
}

// counterReader reads a printer's hardware counters between cards
// (*station.Engine has it; the technician's screens use the same call).
type counterReader interface {
	PrinterHealth(ctx context.Context, name string) (*station.PrinterHealth, error)
}

// liveCounter is a printer's "cards inserted" counter read for the
// reconciliation, or why it was not.
type liveCounter struct {
	Value int64
	At    time.Time
	Not   bool // not read now: the printer was busy with a card or did not answer
}

// readCounters reads every printer's counter now. A reading taken while
// a card was in flight (stale) is not used: the ledger and the counter
// would disagree by that card.
func (h *handler) readCounters(ctx context.Context) (map[string]int64, map[string]liveCounter) {
	cr, ok := h.st.(counterReader)
	if !ok {
		return nil, nil
	}
	counters, live := map[string]int64{}, map[string]liveCounter{}
	for _, p := range h.st.Printers() {
		ph, err := cr.PrinterHealth(ctx, p.Name)
		if err != nil || ph == nil || ph.Stale || ph.Counters == nil {
			live[p.Name] = liveCounter{Not: true}
			continue
		}
		counters[p.Name] = ph.Counters.CardsInserted
		live[p.Name] = liveCounter{Value: ph.Counters.CardsInserted, At: ph.Read}
	}
	return counters, live
}

// maxCount bounds a physical count typed on the reconcile form.
const maxCount = inventory.MaxQuantity

func (h *handler) showReconcile(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "reconcile")
	from, to, bad := h.period(r, l, av)
	q := r.URL.Query()
	physical := map[string]int64{}
	locs := []physicalInput{{Loc: inventory.Storage, Label: l.T("stock_storage")}}
	for _, p := range h.st.Printers() {
		locs = append(locs, physicalInput{Loc: p.Name, Label: l.T("stock_in_printer", "Name", p.Name)})
	}
	for i := range locs {
		val := strings.TrimSpace(q.Get("physical_" + locs[i].Loc))
		locs[i].Value = val
		if val == "" {
			continue
		}
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 || n > maxCount {
			if bad == "" {
				bad = l.T("stockops_err_field", "What", locs[i].Label, "Why", l.T("audit_err_count"))
			}
			continue
		}
		physical[locs[i].Loc] = n
	}
	av.Physical = locs
	db, why := h.auditDB(l)
	switch {
	case why != "":
		av.Err = why
	case bad != "":
		av.Err, code = bad, http.StatusBadRequest
	case av.Asked:
		ctx, cancel := context.WithTimeout(r.Context(), auditTimeout)
		defer cancel()
		// A period that reaches now is also compared with the printers'
		// counters read now, before the ledger is read: a card fed in
		// between shows in the ledger and not in the counter, never the
		// other way round.
		var counters map[string]int64
		if to.After(h.opts.Now()) {
			counters, av.Live = h.readCounters(ctx)
		}
		err := h.snapshot(ctx, db, func(tx *sql.Tx) error {
			p, err := inventory.Summarize(ctx, tx, from, to)
			if err != nil {
				return err
			}
			// The physical counts typed and the counters read now are
			// compared with the period's closing figures; Summarize
			// compared the counter readings the ledger holds.
			p.CheckCounts(physical, counters)
			av.Period = p
			return nil
		})
		if err != nil {
			av.Err = h.auditFailed(l, "reconcile", err)
		}
	}
	h.render(w, l, code, "audit_reconcile.html", v)
}

// MaxAwaitingShown bounds the waiting cards listed on one page (the
// oldest, to be destroyed first); the count says how many more wait.
const MaxAwaitingShown = 300

// awaitingCards lists the spoiled cards with a known chip UID that no
// destruction named yet, oldest first; nil when the ledger cannot be read
// here (the destruction form then takes a count, as before).
func (h *handler) awaitingCards(ctx context.Context) (cards []inventory.SpoiledCard, more int) {
	if h.opts.AuditDB == nil {
		return nil, 0
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	sp, err := h.currentSpoilage(ctx, h.opts.AuditDB)
	if err != nil {
		h.log.Warn().Err(err).Msg("the spoiled cards could not be listed on the destruction form")
		return nil, 0
	}
	for _, c := range sp.Awaiting {
		switch {
		case c.UID == inventory.UIDUnknown:
		case len(cards) < MaxAwaitingShown:
			cards = append(cards, c)
		default:
			more++
		}
	}
	return cards, more
}

// oldAfter is how long a spoiled card may wait for its destruction: the
// Dukcapil circular asks for destruction every day.
const oldAfter = 24 * time.Hour

// spoilCache keeps the spoiled cards' replay between views: each view
// reads only the events added since (the screens and the destruction form
// show it on every view, and a full replay of a large ledger takes
// seconds).
type spoilCache struct {
	mu sync.Mutex
	sp *inventory.Spoilage
}

// currentSpoilage brings the replay up to date and returns a copy to show.
func (h *handler) currentSpoilage(ctx context.Context, db *sql.DB) (*inventory.Spoilage, error) {
	c := &h.spoiled
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sp == nil {
		c.sp = &inventory.Spoilage{}
	}
	err := h.snapshot(ctx, db, func(tx *sql.Tx) error { return c.sp.Update(ctx, tx) })
	if err != nil {
		c.sp = nil // start over next time
		return nil, err
	}
	return c.sp.Clone(), nil
}

func (h *handler) spoilage(ctx context.Context, l *lang, av *auditView) {
	db, why := h.auditDB(l)
	if why != "" {
		av.Err = why
		return
	}
	ctx, cancel := context.WithTimeout(ctx, auditTimeout)
	defer cancel()
	sp, err := h.currentSpoilage(ctx, db)
	if err != nil {
		av.Err = h.auditFailed(l, "spoiled", err)
		return
	}
	av.Spoilage = sp
}

func (h *handler) showSpoiled(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "spoiled")
	h.spoilage(r.Context(), l, av)
	if sp := av.Spoilage; sp != nil {
		av.Old = map[int64]bool{}
		now := h.opts.Now()
		for _, c := range sp.Awaiting {
			if now.Sub(c.At) > oldAfter {
				av.Old[c.Seq] = true
				av.OldCount++
			}
		}
		av.Extra = int64(len(sp.Awaiting)) - sp.Count
		if len(sp.Awaiting) > MaxAwaitingShown {
			av.Hidden = len(sp.Awaiting) - MaxAwaitingShown
			sp.Awaiting = sp.Awaiting[:MaxAwaitingShown]
		}
		// Newest destruction first: the one the auditor came to print.
		for i, j := 0, len(sp.Destructions)-1; i < j; i, j = i+1, j-1 {
			sp.Destructions[i], sp.Destructions[j] = sp.Destructions[j], sp.Destructions[i]
		}
	}
	h.render(w, l, code, "audit_spoiled.html", v)
}

func (h *handler) showExport(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "export")
	if _, bad := h.periodOrAll(r, l, av); bad != "" {
		av.Err, code = bad, http.StatusBadRequest
	}
	h.render(w, l, code, "audit_export.html", v)
}

// periodOrAll is period, except that an export with no dates is the whole
// ledger (as `audit export` without --from/--to).
func (h *handler) periodOrAll(r *http.Request, l *lang, av *auditView) ([2]time.Time, string) {
	q := r.URL.Query()
	if strings.TrimSpace(q.Get("from")) == "" && strings.TrimSpace(q.Get("to")) == "" {
		return [2]time.Time{}, ""
	}
	f, t, bad := h.period(r, l, av)
	return [2]time.Time{f, t}, bad
}

// countingWriter knows whether anything was written yet: until then a
// failure can still be answered with a page.
type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// download sends an export as a file: the bytes of `audit export` for
// the same log, format and period.
func (h *handler) download(w http.ResponseWriter, r *http.Request, s *session, l *lang, _ int, _ *note) {
	q := r.URL.Query()
	format, log := q.Get("format"), q.Get("log")
	if log == "" {
		log = inventory.LogBlanks
	}
	av := &auditView{}
	span, bad := h.periodOrAll(r, l, av)
	if (format != "csv" && format != "json") || (log != inventory.LogBlanks && log != inventory.LogPeople) {
		bad = l.T("audit_err_export_kind")
	}
	db, why := h.auditDB(l)
	if bad != "" || why != "" {
		text := why
		if bad != "" {
			text = bad
		}
		http.Error(w, text, http.StatusBadRequest)
		return
	}
	name := "ledger-" + safeFile(h.opts.Station) + "-" + log
	if !span[0].IsZero() {
		name += "-" + av.From + "-" + av.To
	}
	name += "." + format
	ctx, cancel := context.WithTimeout(r.Context(), auditTimeout)
	defer cancel()
	ctype := "text/csv; charset=utf-8"
	if format == "json" {
		ctype = "application/json"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	cw := &countingWriter{w: w}
	err := h.snapshot(ctx, db, func(tx *sql.Tx) error {
		return inventory.ExportLog(ctx, tx, cw, format, log, span[0], span[1])
	})
	if err != nil {
		h.log.Error().Err(err).Str("log", log).Str("format", format).Msg("an export from the web page failed")
		if cw.n == 0 {
			w.Header().Del("Content-Disposition")
			http.Error(w, l.T("audit_err_read"), http.StatusInternalServerError)
			return
		}
		// Half a file is worse than none: the connection is cut so the
		// browser reports a failed download rather than saving it.
		panic(http.ErrAbortHandler)
	}
	h.log.Info().Str("log", log).Str("format", format).Int64("bytes", cw.n).Msg("ledger exported from the web page")
}

// safeFile keeps a station id usable in a file name.
func safeFile(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, s)
}

// MaxPeopleRows bounds the people log shown on one page; the export has
// every row.
const MaxPeopleRows = 500

func (h *handler) showPeople(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "people")
	from, to, bad := h.period(r, l, av)
	db, why := h.auditDB(l)
	switch {
	case why != "":
		av.Err = why
	case bad != "":
		av.Err, code = bad, http.StatusBadRequest
	default:
		ctx, cancel := context.WithTimeout(r.Context(), auditTimeout)
		defer cancel()
		err := h.snapshot(ctx, db, func(tx *sql.Tx) error {
			var err error
			av.People, av.More, err = inventory.Events(ctx, tx, inventory.LogPeople, from, to, MaxPeopleRows)
			return err
		})
		if err != nil {
			av.Err = h.auditFailed(l, "people", err)
		}
	}
	h.render(w, l, code, "audit_people.html", v)
}

// peopleKinds words the people log's kinds.
var peopleKinds = map[inventory.Kind]string{
	inventory.SignedIn:       msg("audit_kind_signed_in"),
	inventory.SignInFailed:   msg("audit_kind_sign_in_failed"),
	inventory.SignedOut:      msg("audit_kind_signed_out"),
	inventory.AccountChanged: msg("audit_kind_account_changed"),
	inventory.ConfigReloaded: msg("audit_kind_config_reloaded"),
	inventory.ActionTaken:    msg("audit_kind_action"),
}

// peopleActions words the people log's actions: the codes the page, the
// socket (station/api_routes.go) and the accounts write. An action without
// words shows its code, marked as English.
var peopleActions = map[string]string{
	"batch_start":                  msg("audit_act_batch_start"),
	"batch_resume":                 msg("audit_act_batch_resume"),
	"batch_pause":                  msg("audit_act_batch_pause"),
	"batch_cancel":                 msg("audit_act_batch_cancel"),
	"job_confirm":                  msg("audit_act_job_confirm"),
	"job_spoil":                    msg("audit_act_job_spoil"),
	"job_retry":                    msg("audit_act_job_retry"),
	"printer_resume":               msg("audit_act_printer_resume"),
	"printer_diag_status":          msg("audit_act_printer_diag_status"),
	"printer_diag_counters":        msg("audit_act_printer_diag_counters"),
	"printer_diag_sensors":         msg("audit_act_printer_diag_sensors"),
	"printer_diag_test-card":       msg("audit_act_printer_diag_test_card"),
	"printer_diag_clean":           msg("audit_act_printer_diag_clean"),
	"printer_diag_record-cleaning": msg("audit_act_printer_diag_record_cleaning"),
	"printer_diag_self-adjust":     msg("audit_act_printer_diag_self_adjust"),
	"printer_diag_reader-test":     msg("audit_act_printer_diag_reader_test"),
	"printer_diag_probe":           msg("audit_act_printer_diag_probe"),
	"stock_request":                msg("audit_act_stock_request"),
	"stock_announce":               msg("audit_act_stock_announce"),
	"offline_start":                msg("audit_act_offline_start"),
	"add":                          msg("audit_act_add"),
	"enable":                       msg("audit_act_enable"),
	"disable":                      msg("audit_act_disable"),
	"unlock":                       msg("audit_act_unlock"),
	"set_secret":                   msg("audit_act_set_secret"),
	"set_roles":                    msg("audit_act_set_roles"),
	"unmap_uid":                    msg("audit_act_unmap_uid"),
}

// peopleVias words how a person reached the station.
var peopleVias = map[string]string{
	inventory.ViaWeb:    msg("audit_via_web"),
	inventory.ViaSocket: msg("audit_via_socket"),
	inventory.ViaHost:   msg("audit_via_host"),
}

func (h *handler) showBeritaAcara(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "spoiled")
	seq, err := strconv.ParseInt(r.PathValue("seq"), 10, 64)
	if err != nil || seq < 0 {
		av.Err, code = l.T("audit_err_no_destruction"), http.StatusNotFound
	} else {
		h.spoilage(r.Context(), l, av)
		if av.Spoilage != nil {
			for i := range av.Spoilage.Destructions {
				if d := &av.Spoilage.Destructions[i]; d.Seq == seq {
					av.Destruction = d
				}
			}
			if av.Destruction == nil {
				av.Err, code = l.T("audit_err_no_destruction"), http.StatusNotFound
			}
		}
	}
	av.Place = h.opts.Office
	if av.Place == "" {
		av.Place = l.T("audit_ba_station_place", "Name", h.opts.Station)
	}
	if d := av.Destruction; d != nil {
		for _, w := range d.Witnesses {
			if !strings.EqualFold(w, d.Actor) {
				av.Others = append(av.Others, w)
			}
		}
	}
	h.render(w, l, code, "audit_berita_acara.html", v)
}

var monthRE = regexp.MustCompile(`^\d{4}-\d{2}$`)

func (h *handler) showMonthly(w http.ResponseWriter, r *http.Request, s *session, l *lang, code int, _ *note) {
	v, av := h.auditFrame(r, l, s, "monthly")
	av.Month = strings.TrimSpace(r.URL.Query().Get("month"))
	if av.Month == "" {
		av.Month = h.opts.Now().In(time.Local).Format("2006-01")
	}
	from, err := time.ParseInLocation("2006-01", av.Month, time.Local)
	db, why := h.auditDB(l)
	switch {
	case why != "":
		av.Err = why
	case err != nil || !monthRE.MatchString(av.Month):
		av.Err, code = l.T("audit_err_month"), http.StatusBadRequest
	case auditYear(l, l.T("audit_month"), from) != "":
		av.Err, code = auditYear(l, l.T("audit_month"), from), http.StatusBadRequest
	default:
		ctx, cancel := context.WithTimeout(r.Context(), auditTimeout)
		defer cancel()
		err := h.snapshot(ctx, db, func(tx *sql.Tx) error {
			var err error
			av.Period, err = inventory.Summarize(ctx, tx, from, from.AddDate(0, 1, 0))
			return err
		})
		if err != nil {
			av.Err = h.auditFailed(l, "monthly", err)
		}
	}
	h.render(w, l, code, "audit_monthly.html", v)
}

// auditFuncs are the auditor's templates' functions.
func auditFuncs(l *lang) map[string]any {
	return map[string]any{
		// short writes a root hash as the first 12 characters of its base64.
		"short": func(s string) string {
			if len(s) > 12 {
				return s[:12] + "…"
			}
			return s
		},
		// peopleAction is an action's words, "" when it has none.
		"peopleAction": func(a string) string {
			if id, ok := peopleActions[a]; ok {
				return l.T(id)
			}
			if n, ok := strings.CutPrefix(a, "map_uid "); ok {
				return l.T("audit_act_map_uid", "N", n)
			}
			return ""
		},
		"peopleVia": func(v string) string {
			if id, ok := peopleVias[v]; ok {
				return l.T(id)
			}
			return v
		},
		"peopleKind": func(k inventory.Kind) string {
			if id, ok := peopleKinds[k]; ok {
				return l.T(id)
			}
			return string(k)
		},
		"age": func(t time.Time, now time.Time) string {
			d := now.Sub(t)
			if d < time.Hour {
				return l.T("audit_age_minutes", "N", l.Num(int64(d/time.Minute)))
			}
			if d < 48*time.Hour {
				return l.T("audit_age_hours", "N", l.Num(int64(d/time.Hour)))
			}
			return l.T("audit_age_days", "N", l.Num(int64(d/(24*time.Hour))))
		},
		"reasonsOf": func(m map[string]int64) []reasonCount {
			var out []reasonCount
			for _, r := range inventory.SpoilReasons {
				if m[r] > 0 {
					out = append(out, reasonCount{r, m[r]})
				}
			}
			return out
		},
		"join": strings.Join,
		// testCards: the engine records a printer's test card as a blank
		// spoiled for reason "test" (it is destroyed like any spoiled
		// one); older ledgers may hold test_card events.
		"testCards": func(p *inventory.Period) int64 { return p.TestCards + p.Spoiled[inventory.ReasonTest] },
		"inc":       func(i int) int { return i + 1 },
		"val": func(p *int64) int64 {
			if p == nil {
				return 0
			}
			return *p
		},
		"monthName": func(ym string) string {
			t, err := time.Parse("2006-01", ym)
			if err != nil {
				return ym
			}
			return l.T(monthID(t.Month())) + " " + strconv.Itoa(t.Year())
		},
		// isCounter: a discrepancy of a printer's counter read now (the
		// physical counts name a place without the printer: prefix).
		"isCounter": func(loc string) bool { return strings.HasPrefix(loc, "printer:") },
		"locName": func(loc string) string {
			if loc == inventory.Storage {
				return l.T("stock_storage")
			}
			return l.T("stock_in_printer", "Name", strings.TrimPrefix(loc, "printer:"))
		},
	}
}

type reasonCount struct {
	Reason string
	N      int64
}
