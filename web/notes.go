package web

import (
	"regexp"
	"sync"
)

// note is the outcome of an action, shown once on the page the action
// redirected to.
type note struct {
	Text string
	Err  bool
	// Detail is the engine's own words for an error the page has no
	// wording for, folded away for the technician (commands removed).
	Detail string
}

// notes holds at most one note per session, taken when shown.
type notes struct {
	mu sync.Mutex
	m  map[string]note
}

func newNotes() *notes { return &notes{m: map[string]note{}} }

func (n *notes) put(session string, v note) {
	v.Detail = scrubCommands(v.Detail)
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.m) >= maxSessions {
		// Notes of sessions that never came back: drop them all rather
		// than grow (a note is a convenience, the action is recorded).
		n.m = map[string]note{}
	}
	n.m[session] = v
}

func (n *notes) take(session string) (note, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	v, ok := n.m[session]
	delete(n.m, session)
	return v, ok
}

func (n *notes) drop(session string) {
	n.mu.Lock()
	delete(n.m, session)
	n.mu.Unlock()
}

// The engine's texts end with the CLI's command for the same fix; on the
// page the button is right there.
var commandRE = regexp.MustCompile(`\s*[(,;:—-]*\s*(then )?(run |use |resume: )?` + "`?" + `printstationctl [^);]*\)?`)

func scrubCommands(s string) string { return commandRE.ReplaceAllString(s, "") }

// queries keeps each session's last search in memory, so the results page
// is a plain GET whose address holds no NIK or name (browser history,
// logs) and whose reload repeats nothing.
type queries struct {
	mu sync.Mutex
	m  map[string]string
}

func newQueries() *queries { return &queries{m: map[string]string{}} }

func (q *queries) put(session, text string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.m) >= maxSessions {
		q.m = map[string]string{}
	}
	q.m[session] = text
}

func (q *queries) get(session string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.m[session]
}
