package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"printstation/inventory"
	"printstation/jobqueue"
	"printstation/station"
)

// signedIn answers with the sign-in page's address when nobody is signed
// in, and returns nil then.
func (h *handler) signedIn(w http.ResponseWriter, r *http.Request) (*session, *lang) {
	s := h.sessions.lookup(r)
	l := h.langOf(r, s)
	if s == nil || s.Name == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return nil, l
	}
	return s, l
}

type searchView struct {
	Query    string
	By       string // nik, job, name
	Found    []station.FoundJob
	Err      string
	Searched bool
}

// MaxQuery bounds a search text.
const MaxQuery = 100

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	s, _ := h.post(w, r, true)
	if s == nil {
		return
	}
	q := strings.TrimSpace(r.PostFormValue("q"))
	if len([]rune(q)) > MaxQuery {
		q = string([]rune(q)[:MaxQuery])
	}
	h.queries.put(s.id, q)
	http.Redirect(w, r, "/search", http.StatusSeeOther)
}

func (h *handler) searchPage(w http.ResponseWriter, r *http.Request) {
	s, l := h.signedIn(w, r)
	if s == nil {
		return
	}
	v := h.frame(r, l, s, "search")
	sv := &searchView{Query: h.queries.get(s.id)}
	if sv.Query != "" {
		sv.Searched = true
		by, found, err := h.st.FindJobs(r.Context(), sv.Query)
		sv.By, sv.Found = by, found
		switch {
		case errors.Is(err, jobqueue.ErrShortName):
			sv.Err = l.T("search_err_short")
		case err != nil:
			h.log.Warn().Err(err).Str("by", by).Msg("search failed")
			sv.Err = l.T("search_err_failed")
		default:
			// Never the text searched for: it may be a NIK or a name.
			h.log.Info().Str("by", by).Int("found", len(found)).Msg("search from the web page")
		}
	}
	v.Search = sv
	h.render(w, l, http.StatusOK, "search.html", v)
}

type storyView struct {
	ID       string
	Story    *station.JobStory
	ShowFace bool
	Missing  bool
}

func (h *handler) jobPage(w http.ResponseWriter, r *http.Request) {
	s, l := h.signedIn(w, r)
	if s == nil {
		return
	}
	id := r.PathValue("id")
	v := h.frame(r, l, s, "search")
	sv := &storyView{ID: id, ShowFace: r.URL.Query().Get("face") == "1"}
	code := http.StatusOK
	if !validID(id) {
		sv.Missing, code = true, http.StatusNotFound
	} else if st, err := h.st.Story(r.Context(), id); errors.Is(err, jobqueue.ErrNotFound) {
		sv.Missing, code = true, http.StatusNotFound
	} else if err != nil {
		h.log.Warn().Err(err).Str("job", id).Msg("job story could not be read")
		sv.Missing, code = true, http.StatusInternalServerError
	} else {
		sv.Story = st
		sv.ShowFace = sv.ShowFace && st.HasData
	}
	v.Story = sv
	h.render(w, l, code, "job.html", v)
}

// face draws the card face of a job that still holds its data, for a
// signed-in person, in memory: no-store (set for every answer) keeps it
// out of the browser's disk cache, and nothing is written on the station.
func (h *handler) face(w http.ResponseWriter, r *http.Request) {
	s := h.sessions.lookup(r)
	l := h.langOf(r, s)
	if s == nil || s.Name == "" {
		http.Error(w, l.T("err_sign_in_first"), http.StatusUnauthorized)
		return
	}
	id := r.PathValue("id")
	if !validID(id) {
		http.NotFound(w, r)
		return
	}
	png, err := h.st.Preview(r.Context(), id)
	switch {
	case errors.Is(err, jobqueue.ErrNotFound) || errors.Is(err, jobqueue.ErrPurged):
		http.Error(w, l.T("face_gone"), http.StatusNotFound)
		return
	case err != nil:
		h.log.Warn().Err(err).Str("job", id).Msg("face preview failed")
		http.Error(w, l.T("face_failed"), http.StatusInternalServerError)
		return
	}
	h.log.Info().Str("job", id).Str("role", s.Role).Msg("face preview shown")
	w.Header().Set("Content-Type", "image/png")
	w.Write(png)
}

type todayView struct {
	Since  time.Time
	Jobs   []station.FoundJob
	Counts []stateCount
	Err    string
}

type stateCount struct {
	State string
	N     int
}

func startOfDay(t time.Time) time.Time {
	t = t.Local()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.Local)
}

func (h *handler) todayPage(w http.ResponseWriter, r *http.Request) {
	s, l := h.signedIn(w, r)
	if s == nil {
		return
	}
	v := h.frame(r, l, s, "today")
	tv := &todayView{Since: startOfDay(h.opts.Now())}
	jobs, err := h.st.Today(r.Context(), tv.Since)
	if err != nil {
		h.log.Warn().Err(err).Msg("queue of the day could not be read")
		tv.Err = l.T("today_err")
	}
	tv.Jobs = jobs
	n := map[string]int{}
	for _, j := range jobs {
		n[string(j.State)]++
	}
	for _, st := range jobqueue.AllStates {
		if n[string(st)] > 0 {
			tv.Counts = append(tv.Counts, stateCount{State: string(st), N: n[string(st)]})
		}
	}
	v.Today = tv
	h.render(w, l, http.StatusOK, "today.html", v)
}

type reportView struct {
	From, To time.Time
	Period   *inventory.Period
	Live     *liveView
	Err      string
	Printed  int64
	Spoiled  int64
}

func (h *handler) reportPage(w http.ResponseWriter, r *http.Request) {
	s, l := h.signedIn(w, r)
	if s == nil {
		return
	}
	v := h.frame(r, l, s, "report")
	now := h.opts.Now()
	rv := &reportView{From: startOfDay(now), To: now, Live: h.loadLive(r.Context(), l, s)}
	p, err := h.st.Shift(r.Context(), rv.From, now.Add(time.Second))
	if err != nil {
		h.log.Warn().Err(err).Msg("shift report could not be read")
		rv.Err = l.T("report_err")
	} else {
		rv.Period = p
		rv.Printed = p.Consumed
		for _, n := range p.Spoiled {
			rv.Spoiled += n
		}
	}
	v.Report = rv
	h.render(w, l, http.StatusOK, "report.html", v)
}
