package inventory

import "strings"

// The people log: who signed in (and who failed to), who changed an account,
// who reloaded the configuration and who acted on a batch, job or printer.
// These events are leaves of the same Merkle tree as the blanks, under the
// same signed checkpoints, so `audit verify` covers them and a deleted or
// edited sign-in shows exactly as a deleted or edited blank does. They move
// no stock.
const (
	SignedIn       Kind = "signed_in"       // a person proved who they are (Via: web or socket)
	SignInFailed   Kind = "sign_in_failed"  // a wrong secret, an unknown name, a locked or disabled account
	SignedOut      Kind = "signed_out"      // a page session ended (Reason: sign_out, idle, disabled)
	AccountChanged Kind = "account_changed" // an account was added, disabled, unlocked, given roles...
	ConfigReloaded Kind = "config_reloaded" // the daemon re-read its configuration
	ActionTaken    Kind = "action"          // a person acted on a batch, job or printer
)

// UnknownAccount is the actor of a failed sign-in under a name no account
// has. The name typed is not kept: it is as likely to be a secret typed in
// the wrong box as a name.
const UnknownAccount = "(unknown account)"

// Where a person acted from.
const (
	ViaWeb    = "web"    // the print-room page
	ViaSocket = "socket" // printstationctl through the daemon's socket
	ViaHost   = "host"   // root on the station computer, or the daemon itself
)

var peopleKinds = map[Kind]bool{SignedIn: true, SignInFailed: true, SignedOut: true,
	AccountChanged: true, ConfigReloaded: true, ActionTaken: true}

func init() {
	for k := range peopleKinds {
		kinds[k] = true
	}
}

// IsPeople says whether k belongs to the people log rather than the blanks.
func IsPeople(k Kind) bool { return peopleKinds[k] }

// PeopleKinds lists the people log's kinds.
func PeopleKinds() []Kind {
	return []Kind{SignedIn, SignInFailed, SignedOut, AccountChanged, ConfigReloaded, ActionTaken}
}

// checkPeople refuses the people log's fields on a blank event and checks a
// people event's own: it must say where it came from and, for a change or
// an action, what was done; it never carries stock fields.
func checkPeople(e Event) error {
	r := func(format string, args ...any) error { return refuse(e.Kind, format, args...) }
	if !peopleKinds[e.Kind] {
		if e.Action != "" || e.Subject != "" || e.Via != "" || len(e.Roles) > 0 {
			return r("action, subject, via and roles belong to the people log, not to a blank event")
		}
		return nil
	}
	switch e.Via {
	case ViaWeb, ViaSocket, ViaHost:
	default:
		return r("via %q is not one of %s, %s, %s", e.Via, ViaWeb, ViaSocket, ViaHost)
	}
	if e.Quantity != 0 || e.DeliveryRef != "" || e.SerialFirst != "" || e.SerialLast != "" || e.UID != "" ||
		len(e.UIDs) > 0 || e.RecordRef != "" || len(e.Approvers) > 0 || e.Location != "" || len(e.Counted) > 0 || e.CardsInserted != 0 {
		return r("a people event carries no stock fields")
	}
	switch e.Kind {
	case AccountChanged, ActionTaken:
		if strings.TrimSpace(e.Action) == "" {
			return r("no action: say what was done")
		}
		if e.Kind == AccountChanged && strings.TrimSpace(e.Subject) == "" {
			return r("no subject: say which account changed")
		}
	case SignInFailed, SignedOut:
		if strings.TrimSpace(e.Reason) == "" {
			return r("no reason")
		}
	}
	return nil
}
