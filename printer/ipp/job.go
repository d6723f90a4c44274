package ipp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/OpenPrinting/goipp"

	"printstation/printer"
)

// Card is one card to print: its front and, when it has one, its back, as
// card.Render draws them (landscape, 300 dpi, 1016 × 648 dots).
type Card struct {
	// Title names the job in the queue. It must not hold personal data:
	// queues log it and show it to anyone at the printer (use the job id).
	Title string
	Front image.Image
	Back  image.Image // nil: one side
}

// Job is a print job in the queue.
type Job struct {
	ID    int    `json:"id"`
	State string `json:"state"` // pending, pending-held, processing, processing-stopped, canceled, aborted, completed
	// Submitted is false only when the queue certainly has no job: the
	// request was refused, or never left the station.
	Submitted bool     `json:"submitted"`
	Reasons   []string `json:"reasons,omitempty"`
	Message   string   `json:"message,omitempty"`
	Format    string   `json:"format,omitempty"`
}

// Terminal reports whether the job will not change any more.
func (j Job) Terminal() bool {
	return j.State == "completed" || j.State == "aborted" || j.State == "canceled"
}

var jobStates = map[int]string{3: "pending", 4: "pending-held", 5: "processing", 6: "processing-stopped", 7: "canceled", 8: "aborted", 9: "completed"}

// Card size: ID-1 (ISO/IEC 7810), 85.60 × 53.98 mm.
const (
	cardWmm100 = 8560 // hundredths of a millimetre, as media-size takes them
	cardHmm100 = 5398
	dotsPerM   = 11811 // 300 dpi
)

// PrintCard submits the card and follows the job to its end: Submit then
// Wait.
func (d *Driver) PrintCard(ctx context.Context, c Card) (Job, error) {
	j, err := d.Submit(ctx, c)
	if err != nil {
		return j, err
	}
	return d.Wait(ctx, j)
}

// Submit checks the queue can print now, and sends the card as one job. It
// refuses, with nothing sent, when the queue reports a fault: a card put in
// a stopped printer waits there unseen.
func (d *Driver) Submit(ctx context.Context, c Card) (Job, error) {
	if c.Front == nil {
		return Job{}, d.fail("print card", printer.KindRefused, "no front image", nil)
	}
	if err := checkImages(c); err != nil {
		return Job{}, d.fail("print card", printer.KindRefused, err.Error(), nil)
	}
	q, err := d.Queue(ctx)
	if err != nil {
		return Job{}, err
	}
	if err := d.fault("print card", q); err != nil {
		return Job{}, err
	}
	format, doc, err := Document(c, q.Formats)
	if err != nil {
		return Job{}, d.fail("print card", printer.KindRefused, err.Error(), nil)
	}
	duplex := c.Back != nil
	if duplex && !slices.Contains(q.Sides, "two-sided-long-edge") {
		return Job{}, d.fail("print card", printer.KindRefused,
			"the card has a back but the queue does not print both sides (sides-supported has no two-sided-long-edge); set up the queue with the maker's duplex driver", nil)
	}
	title := c.Title
	if title == "" {
		title = "card"
	}
	r, err := d.request(ctx, goipp.OpPrintJob, d.t.Bitmap, func(m *goipp.Message) {
		m.Operation.Add(goipp.MakeAttribute("job-name", goipp.TagName, goipp.String(title)))
		m.Operation.Add(goipp.MakeAttribute("document-format", goipp.TagMimeType, goipp.String(format)))
		sides := "one-sided"
		if duplex {
			sides = "two-sided-long-edge"
		}
		m.Job.Add(goipp.MakeAttribute("sides", goipp.TagKeyword, goipp.String(sides)))
		m.Job.Add(goipp.MakeAttribute("copies", goipp.TagInteger, goipp.Integer(1)))
		// The image is already card size: the queue must not scale it to
		// a page.
		m.Job.Add(goipp.MakeAttribute("print-scaling", goipp.TagKeyword, goipp.String("none")))
		if q.CardMedia != "" {
			m.Job.Add(goipp.MakeAttribute("media", goipp.TagKeyword, goipp.String(q.CardMedia)))
		}
	}, doc)
	if err != nil {
		var se *statusError
		if errors.As(err, &se) {
			return Job{Format: format}, d.statusFail("print card", err)
		}
		// The request may have reached the queue before the link failed,
		// unless the connection was never made.
		return Job{Format: format, Submitted: !notConnected(err), State: "unknown"}, err
	}
	id, ok := attrInt(r.Job, "job-id")
	if !ok || id <= 0 {
		return Job{Format: format, Submitted: true, State: "unknown"}, d.fail("print card", printer.KindProtocol, "the queue accepted the job but gave no job-id", nil)
	}
	j := Job{ID: id, Submitted: true, Format: format, State: jobStates[intOr(r.Job, "job-state", 3)]}
	d.log.Debug().Str("printer", d.name).Int("ipp_job", id).Str("format", format).Msg("card submitted")
	return j, nil
}

func intOr(attrs goipp.Attributes, name string, def int) int {
	if v, ok := attrInt(attrs, name); ok {
		return v
	}
	return def
}

// JobState reads one job.
func (d *Driver) JobState(ctx context.Context, id int) (Job, error) {
	r, err := d.request(ctx, goipp.OpGetJobAttributes, d.t.Read, func(m *goipp.Message) {
		m.Operation.Add(goipp.MakeAttribute("job-id", goipp.TagInteger, goipp.Integer(id)))
		var v goipp.Values
		for _, a := range []string{"job-id", "job-state", "job-state-reasons", "job-state-message"} {
			v.Add(goipp.TagKeyword, goipp.String(a))
		}
		m.Operation.Add(goipp.Attribute{Name: "requested-attributes", Values: v})
	}, nil)
	if err != nil {
		return Job{ID: id, Submitted: true, State: "unknown"}, d.statusFail(fmt.Sprintf("read job %d", id), err)
	}
	st, ok := attrInt(r.Job, "job-state")
	if !ok {
		return Job{ID: id, Submitted: true, State: "unknown"}, d.fail(fmt.Sprintf("read job %d", id), printer.KindProtocol, "no job-state in the reply", nil)
	}
	j := Job{ID: id, Submitted: true, State: jobStates[st], Reasons: attrStrings(r.Job, "job-state-reasons"), Message: attrString(r.Job, "job-state-message")}
	if j.State == "" {
		j.State = fmt.Sprintf("state %d", st)
	}
	return j, nil
}

// Wait follows a job until it completes, every poll bounded and the whole
// wait bounded by the print timeout; it looks after 25 ms, then at twice
// the interval each time up to the poll interval (default 200 ms). It returns early with a typed error,
// the job still alive, when the queue reports a fault (cover open, no
// cards, stopped): a person has to act, and the caller decides whether to
// wait again or cancel. An aborted job is an error of the fault that
// aborted it; a cancelled one is printer.KindCancelled.
func (d *Driver) Wait(ctx context.Context, j Job) (Job, error) {
	op := fmt.Sprintf("print job %d", j.ID)
	deadline := time.Now().Add(d.t.Print)
	// Look soon, then less often: a queue with nothing mechanical to do
	// finishes within tens of milliseconds, a real card takes seconds.
	every := min(25*time.Millisecond, d.poll)
	for {
		cur, err := d.JobState(ctx, j.ID)
		if err != nil {
			return cur, err
		}
		cur.Format = j.Format
		switch cur.State {
		case "completed":
			return cur, nil
		case "canceled":
			return cur, d.fail(op, printer.KindCancelled, strings.TrimSpace(strings.Join(cur.Reasons, ",")+" "+cur.Message), nil)
		}
		q, qerr := d.Queue(ctx)
		if cur.State == "aborted" {
			if qerr == nil {
				if k, why, bad := q.Fault(); bad {
					return cur, d.fail(op, k, "job aborted: "+why, nil)
				}
			}
			return cur, d.fail(op, printer.KindOther, "job aborted: "+strings.TrimSpace(strings.Join(cur.Reasons, ",")+" "+cur.Message), nil)
		}
		if qerr != nil {
			return cur, qerr
		}
		if err := d.fault(op, q); err != nil {
			return cur, err
		}
		if cur.State == "processing-stopped" || cur.State == "pending-held" {
			return cur, d.fail(op, printer.KindStopped, "job "+cur.State+": "+strings.TrimSpace(strings.Join(cur.Reasons, ",")+" "+cur.Message), nil)
		}
		if time.Now().After(deadline) {
			return cur, d.fail(op, printer.KindTimeout, fmt.Sprintf("job still %s after %s", cur.State, d.t.Print), nil)
		}
		select {
		case <-ctx.Done():
			return cur, d.fail(op, printer.KindTimeout, "job still "+cur.State, ctx.Err())
		case <-time.After(every):
		}
		every = min(2*every, d.poll)
	}
}

// Cancel cancels a job; a job already finished is not an error.
func (d *Driver) Cancel(ctx context.Context, id int) error {
	_, err := d.request(ctx, goipp.OpCancelJob, d.t.Read, func(m *goipp.Message) {
		m.Operation.Add(goipp.MakeAttribute("job-id", goipp.TagInteger, goipp.Integer(id)))
	}, nil)
	var se *statusError
	if errors.As(err, &se) && se.status == goipp.StatusErrorNotPossible {
		if j, jerr := d.JobState(ctx, id); jerr == nil && j.Terminal() {
			return nil
		}
	}
	if err != nil {
		return d.statusFail(fmt.Sprintf("cancel job %d", id), err)
	}
	return nil
}

// Document encodes a card as the queue takes it: a PNG at 300 dpi for a
// card with one side when the queue takes PNG, else a PDF with a page of
// card size per side. formats is the queue's document-format-supported
// (nil: assume both).
func Document(c Card, formats []string) (string, []byte, error) {
	if err := checkImages(c); err != nil {
		return "", nil, err
	}
	takes := func(f string) bool { return formats == nil || slices.Contains(formats, f) }
	if c.Back == nil && takes("image/png") {
		doc, err := PNG(c.Front)
		return "image/png", doc, err
	}
	if takes("application/pdf") {
		pages := []image.Image{c.Front}
		if c.Back != nil {
			pages = append(pages, c.Back)
		}
		doc, err := PDF(pages)
		return "application/pdf", doc, err
	}
	return "", nil, fmt.Errorf("the queue takes neither image/png nor application/pdf (it takes %s); set it up with the maker's driver, which takes both through CUPS's filters", strings.Join(formats, ", "))
}

func checkImages(c Card) error {
	if c.Front == nil {
		return fmt.Errorf("no front image")
	}
	for _, img := range []image.Image{c.Front, c.Back} {
		if img == nil {
			continue
		}
		b := img.Bounds()
		if b.Dx() < b.Dy() {
			return fmt.Errorf("card image is %d×%d (portrait); the card is drawn landscape, 1016×648 at 300 dpi", b.Dx(), b.Dy())
		}
		if b.Dx() > 4096 || b.Dy() > 4096 || b.Dx() == 0 {
			return fmt.Errorf("card image is %d×%d: expected at most 4096 dots a side", b.Dx(), b.Dy())
		}
	}
	return nil
}

// PNG encodes an image with its resolution (pHYs, 300 dpi), so a queue
// that places images by their resolution prints it at card size.
func PNG(img image.Image) ([]byte, error) {
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, img); err != nil {
		return nil, err
	}
	raw := buf.Bytes()
	const ihdrEnd = 8 + 4 + 4 + 13 + 4 // signature, IHDR length, type, data, CRC
	var ch bytes.Buffer
	data := make([]byte, 9)
	putU32(data[0:], dotsPerM)
	putU32(data[4:], dotsPerM)
	data[8] = 1 // unit: metre
	var n [4]byte
	putU32(n[:], uint32(len(data)))
	ch.Write(n[:])
	typed := append([]byte("pHYs"), data...)
	ch.Write(typed)
	putU32(n[:], crc32.ChecksumIEEE(typed))
	ch.Write(n[:])
	out := make([]byte, 0, len(raw)+ch.Len())
	out = append(out, raw[:ihdrEnd]...)
	out = append(out, ch.Bytes()...)
	out = append(out, raw[ihdrEnd:]...)
	return out, nil
}

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
}

// notConnected reports an error from dialling: the request never left.
func notConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
