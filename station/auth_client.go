package station

import (
	"errors"
	"net/http"
)

// ErrUnauthorized is the local API's 401: it could not tell who calls, or
// a name and secret were refused.
var ErrUnauthorized = errors.New("not signed in")

// SignAs makes every request of c carry name and secret, for a user whose
// uid is not mapped to an account (or who acts as another account).
func (c *Client) SignAs(name string, secret []byte) { c.auth = BasicAuth(name, secret) }

// Witness makes the requests of c carry the second person of a
// dual-control action.
func (c *Client) Witness(name string, secret []byte) { c.witness = BasicAuth(name, secret) }

func (c *Client) authorize(req *http.Request) {
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	if c.witness != "" {
		req.Header.Set(WitnessHeader, c.witness)
	}
}
