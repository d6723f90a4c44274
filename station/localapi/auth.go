package localapi

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
)

// WitnessHeader carries the second person of a dual-control action, in the
// same "Basic base64(name:secret)" form as Authorization.
const WitnessHeader = "X-Printstation-Witness"

// ErrUnauthorized is the local API's 401: it could not tell who calls, or
// a name and secret were refused.
var ErrUnauthorized = errors.New("not signed in")

// BasicAuth is the header value for name and secret.
func BasicAuth(name string, secret []byte) string {
	return "Basic " + base64.StdEncoding.EncodeToString(append([]byte(name+":"), secret...))
}

// ParseBasic reads "Basic base64(name:secret)".
func ParseBasic(h string) (name string, secret []byte, ok bool) {
	b64, found := strings.CutPrefix(h, "Basic ")
	if !found || len(b64) > 1024 {
		return "", nil, false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return "", nil, false
	}
	n, s, found := strings.Cut(string(raw), ":")
	return n, []byte(s), found && n != ""
}

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

// UserBody is what the account commands send (POST /v1/users/{action}).
type UserBody struct {
	Name   string `json:"name,omitempty"`
	Roles  string `json:"roles,omitempty"`  // add, roles: comma-separated
	Secret string `json:"secret,omitempty"` // add, passwd
	UID    *int   `json:"uid,omitempty"`    // map-uid (with name; without it, unmap)
}
