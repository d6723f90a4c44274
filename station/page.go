package station

// What the print-room page asks of the engine beyond the status: the
// central link as a code, finding a citizen's job, a job's whole story,
// the face preview, the queue of the day and the shift's ledger summary.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"time"

	"printstation/card"
	"printstation/inventory"
	"printstation/jobqueue"
)

// CentralLink is the link to the central server, for the page to word.
type CentralLink struct {
	State    string    `json:"state"` // off, connecting, ok, down
	Failures int       `json:"failures,omitempty"`
	LastPull time.Time `json:"last_pull,omitempty"`
	// Ledger is the start-up witness check while it keeps printing from
	// its normal course: checking, waiting (centre unreachable: nothing
	// prints), held (the database does not extend the centre's record) or
	// offline (a supervisor released printing); "" once the centre
	// confirmed the ledger. A person must read this beside the link: a
	// link that is down does not stop printing, a ledger waiting does.
	Ledger string `json:"ledger,omitempty"`
}

// CentralLink says how the link to the centre is.
func (e *Engine) CentralLink() CentralLink {
	if e.syncer == nil {
		return CentralLink{State: "off"}
	}
	var c CentralLink
	s := e.syncer.Status()
	switch {
	case s.PullFailures > 0:
		c = CentralLink{State: "down", Failures: s.PullFailures, LastPull: s.LastPull}
	case s.LastPull.IsZero():
		c = CentralLink{State: "connecting"}
	default:
		c = CentralLink{State: "ok", LastPull: s.LastPull}
	}
	switch w := e.Witness().State; w {
	case "checking", "waiting", "held", "offline":
		c.Ledger = w
	}
	return c
}

// FoundJob is a job as the page lists it. Name is set only when the job
// was found by name (its data is still held).
type FoundJob struct {
	jobqueue.JobMeta
	Name    string
	Printer string // where its last card went, "" before any
}

// Search kinds.
const (
	ByNIK  = "nik"
	ByJob  = "job"
	ByName = "name"
)

// MaxFound bounds a search's answer.
const MaxFound = 50

// FindJobs finds jobs by NIK (16 digits, spaces allowed), else by job id,
// else by name among jobs still holding their data. It returns which it
// searched by.
func (e *Engine) FindJobs(ctx context.Context, text string) (string, []FoundJob, error) {
	if _, err := jobqueue.NormalizeNIK(text); err == nil {
		ms, err := e.queue.FindByNIK(ctx, text)
		if err != nil {
			return ByNIK, nil, err
		}
		return ByNIK, e.found(ctx, ms, nil), nil
	}
	if m, err := e.queue.Meta(ctx, text); err == nil {
		return ByJob, e.found(ctx, []jobqueue.JobMeta{m}, nil), nil
	} else if !errors.Is(err, jobqueue.ErrNotFound) {
		return ByJob, nil, err
	}
	hits, err := e.queue.FindByName(ctx, text, MaxFound)
	if err != nil {
		return ByName, nil, err
	}
	ms := make([]jobqueue.JobMeta, len(hits))
	names := map[string]string{}
	for i, h := range hits {
		ms[i] = h.JobMeta
		names[h.ID] = h.Name
	}
	return ByName, e.found(ctx, ms, names), nil
}

func (e *Engine) found(ctx context.Context, ms []jobqueue.JobMeta, names map[string]string) []FoundJob {
	out := make([]FoundJob, 0, len(ms))
	for _, m := range ms {
		f := FoundJob{JobMeta: m, Name: names[m.ID]}
		e.db.QueryRowContext(ctx, `SELECT printer FROM station_intents WHERE job_id=? ORDER BY id DESC LIMIT 1`, m.ID).Scan(&f.Printer)
		out = append(out, f)
		if len(out) >= MaxFound {
			break
		}
	}
	return out
}

// StoryStep is one thing that happened to a job, oldest first. Kind is
// received, printed, spoiled, reported, reprint (a reprint job was made
// for it), reprint_of (it is a reprint) or state (any other change).
type StoryStep struct {
	At      time.Time
	Kind    string
	State   string // the state it went to (state steps)
	Printer string
	Reason  string // spoil reason code (spoiled steps)
	Actor   string // who, for a person's decision
	Other   string // the other job (reprint, reprint_of)
}

// JobStory is a job's whole life at this station.
type JobStory struct {
	Job     FoundJob
	Steps   []StoryStep
	HasData bool // personal data still held: a face preview can be drawn
}

// Story tells a job's whole story: received, each card printed or spoiled
// (on which printer, why, by whom), reprints, and each report the centre
// acknowledged.
func (e *Engine) Story(ctx context.Context, jobID string) (*JobStory, error) {
	m, err := e.queue.Meta(ctx, jobID)
	if err != nil {
		return nil, err
	}
	st := &JobStory{Job: e.found(ctx, []jobqueue.JobMeta{m}, nil)[0], HasData: !m.Purged}
	hist, err := e.queue.History(ctx, jobID)
	if err != nil {
		return nil, err
	}
	for i, h := range hist {
		switch {
		case i == 0:
			st.Steps = append(st.Steps, StoryStep{At: h.At, Kind: "received", State: string(h.To)})
		case h.To == jobqueue.Printed || h.To == jobqueue.SpoiledWaiting:
			// The ledger's events tell these with printer and reason.
		case h.To == jobqueue.Printing || h.To == h.From || (h.From == jobqueue.SpoiledWaiting && h.To == jobqueue.Queued) ||
			(h.From == jobqueue.Received && h.To == jobqueue.Queued) || (h.From == jobqueue.Printing && h.To == jobqueue.Queued):
			// Attempts, the template's arrival and a claim given back are
			// the normal flow; the cards show through the ledger's events.
		default:
			st.Steps = append(st.Steps, StoryStep{At: h.At, Kind: "state", State: string(h.To)})
		}
	}
	rows, err := e.db.QueryContext(ctx, `SELECT at, kind, printer, data FROM ledger_events WHERE job = ? ORDER BY seq`, jobID)
	if err != nil {
		return nil, fmt.Errorf("job %s: ledger: %w", jobID, err)
	}
	for rows.Next() {
		var at, kind, pr string
		var data []byte
		if err := rows.Scan(&at, &kind, &pr, &data); err != nil {
			rows.Close()
			return nil, err
		}
		ent, err := inventory.ParseEntry(data)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("job %s: ledger: %w", jobID, err)
		}
		t, _ := time.Parse(time.RFC3339Nano, at)
		s := StoryStep{At: t, Printer: pr}
		switch inventory.Kind(kind) {
		case inventory.Consumed:
			s.Kind = "printed"
		case inventory.Spoiled:
			s.Kind, s.Reason = "spoiled", ent.Event.Reason
		default:
			continue
		}
		if ent.Event.Actor != e.ec.Actor {
			s.Actor = ent.Event.Actor
		}
		st.Steps = append(st.Steps, s)
	}
	rows.Close()
	if m.ReprintOf != "" {
		st.Steps = append(st.Steps, StoryStep{At: m.ReceivedAt, Kind: "reprint_of", Other: m.ReprintOf})
	}
	reps, err := e.queue.Reprints(ctx, jobID)
	if err != nil {
		return nil, err
	}
	for _, r := range reps {
		st.Steps = append(st.Steps, StoryStep{At: r.ReceivedAt, Kind: "reprint", Other: r.ID})
	}
	acks, err := e.queue.Reported(ctx, jobID)
	if err != nil {
		return nil, err
	}
	for _, a := range acks {
		st.Steps = append(st.Steps, StoryStep{At: a, Kind: "reported"})
	}
	sortSteps(st.Steps)
	return st, nil
}

func sortSteps(s []StoryStep) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].At.Before(s[j-1].At); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// MaxPreviewWidth is the preview's width in pixels: enough to recognise a
// face and read the name, no more.
const MaxPreviewWidth = 520

// Preview draws a job's card face as PNG, in memory only: the page sends
// it with no-store and nothing is written to disk.
func (e *Engine) Preview(ctx context.Context, jobID string) ([]byte, error) {
	job, err := e.queue.Load(ctx, jobID)
	if err != nil {
		return nil, err
	}
	tpl, err := e.queue.Template(ctx, job.Template.ID, job.Template.SHA256)
	if err != nil {
		return nil, err
	}
	color, _, err := card.Render(tpl, job.Fields, job.Photo, job.Signature)
	if err != nil {
		return nil, fmt.Errorf("job %s: render: %w", jobID, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, shrink(color, MaxPreviewWidth)); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// shrink scales an image down to width by averaging boxes of pixels.
func shrink(src *image.RGBA, width int) image.Image {
	b := src.Bounds()
	if b.Dx() <= width {
		return src
	}
	f := (b.Dx() + width - 1) / width
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx()/f, b.Dy()/f))
	for y := 0; y < dst.Bounds().Dy(); y++ {
		for x := 0; x < dst.Bounds().Dx(); x++ {
			var r, g, bl, a, n uint32
			for dy := 0; dy < f; dy++ {
				for dx := 0; dx < f; dx++ {
					o := src.PixOffset(b.Min.X+x*f+dx, b.Min.Y+y*f+dy)
					r += uint32(src.Pix[o])
					g += uint32(src.Pix[o+1])
					bl += uint32(src.Pix[o+2])
					a += uint32(src.Pix[o+3])
					n++
				}
			}
			o := dst.PixOffset(x, y)
			dst.Pix[o], dst.Pix[o+1], dst.Pix[o+2], dst.Pix[o+3] = uint8(r/n), uint8(g/n), uint8(bl/n), uint8(a/n)
		}
	}
	return dst
}

// MaxToday bounds the queue of the day.
const MaxToday = 500

// Today lists the jobs received or changed since since (the start of the
// day), newest change first.
func (e *Engine) Today(ctx context.Context, since time.Time) ([]FoundJob, error) {
	ms, err := e.queue.JobsSince(ctx, since, MaxToday)
	if err != nil {
		return nil, err
	}
	return e.found(ctx, ms, nil), nil
}

// Shift summarises the ledger over [from, to): cards printed, spoiled by
// reason, per printer, stock at the end.
func (e *Engine) Shift(ctx context.Context, from, to time.Time) (*inventory.Period, error) {
	return inventory.Summarize(ctx, e.db, from, to)
}
