package jobqueue

import (
	"context"
	"fmt"
	"strings"
	"sync"

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

// Template returns the cached template a job names, parsed. A template is
// parsed once per id and hash: its bytes never change under their hash, and
// a parsed template is immutable and safe to share between renders.
func (q *Queue) Template(ctx context.Context, id, hash string) (*card.Template, error) {
	key := id + "\x00" + strings.ToLower(hash)
	parsed.Lock()
	t, ok := parsed.m[key]
	parsed.Unlock()
	if ok {
		return t, nil
	}
	b, err := q.TemplateBytes(ctx, id, hash)
	if err != nil {
		return nil, err
	}
	t, err = card.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("jobqueue: cached template %s: %w", id, err)
	}
	parsed.Lock()
	if len(parsed.m) >= maxParsed {
		clear(parsed.m) // a station prints with one or two templates
	}
	parsed.m[key] = t
	parsed.Unlock()
	return t, nil
}

// parsed holds the templates parsed so far, by id and hash.
var parsed = struct {
	sync.Mutex
	m map[string]*card.Template
}{m: map[string]*card.Template{}}

const maxParsed = 16
