package jobqueue

import (
	"encoding/json"
	"errors"
)

// checkTemplate refuses template bytes that cannot be a template before they
// are cached (the hash already proved the centre signed these bytes).
func (q *Queue) checkTemplate(body []byte) error {
	if !json.Valid(body) {
		return errors.New("template is not JSON")
	}
	return nil
}
