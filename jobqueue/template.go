package jobqueue

import (
	"context"
	"fmt"

	"printstation/card"
)

// checkTemplate refuses template bytes that do not parse as a card template
// before they are cached (the hash already proved the centre signed them),
// so a job never becomes printable with a template that cannot render.
func (q *Queue) checkTemplate(body []byte) error {
	if _, err := card.Parse(body); err != nil {
		return fmt.Errorf("not a usable card template: %w", err)
	}
	return nil
}

// Template returns the cached template a job names, parsed.
func (q *Queue) Template(ctx context.Context, id, hash string) (*card.Template, error) {
	b, err := q.TemplateBytes(ctx, id, hash)
	if err != nil {
		return nil, err
	}
	t, err := card.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: cached template %s: %w", id, err)
	}
	return t, nil
}
