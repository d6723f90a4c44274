package accounts

import (
	"fmt"
	"slices"
	"strings"
)

// Role is a kind of user. The values are stored in the database and the
// people log: never rename one.
type Role string

// Roles.
const (
	Operator   Role = "operator"   // runs batches, loads and receives blanks
	Supervisor Role = "supervisor" // also cancels batches and decides uncertain cards
	Technician Role = "technician" // resumes printers after a repair; sees everything
	Auditor    Role = "auditor"    // reads everything, witnesses, changes nothing
	Admin      Role = "admin"      // manages accounts; runs no cards
)

// AllRoles lists every role, in the order the page and help show them.
var AllRoles = []Role{Operator, Supervisor, Technician, Auditor, Admin}

// ParseRoles reads a comma-separated list such as "operator,supervisor".
func ParseRoles(s string) ([]Role, error) {
	var out []Role
	for _, p := range strings.Split(s, ",") {
		r := Role(strings.ToLower(strings.TrimSpace(p)))
		if r == "" {
			continue
		}
		if !slices.Contains(AllRoles, r) {
			return nil, fmt.Errorf("role %q: expected one of operator, supervisor, technician, auditor, admin", p)
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no role given: expected one or more of operator, supervisor, technician, auditor, admin")
	}
	slices.Sort(out)
	return out, nil
}

// Permission is something a person may do. Every route of the page and the
// local API names the one it needs; the table below is the only place that
// says which roles have it.
type Permission string

// Permissions.
const (
	View          Permission = "view"           // see printers, batches, jobs, stock
	BatchRun      Permission = "batch.run"      // start, pause, resume a batch
	BatchCancel   Permission = "batch.cancel"   // cancel a batch (with a reason)
	JobRetry      Permission = "job.retry"      // send a job in attention back to the queue
	JobDecide     Permission = "job.decide"     // confirm or spoil an uncertain card (with a reason)
	PrinterResume Permission = "printer.resume" // resume a printer after fixing it
	StockMove     Permission = "stock.move"     // receive, load, unload blanks
	StockControl  Permission = "stock.control"  // destroy, adjust, close a shift: the first of two people
	Witness       Permission = "witness"        // be the second person of a dual-control action
	ManageUsers   Permission = "users.manage"   // add, disable, enable, unlock accounts, set secrets and uids
	LedgerEnrol   Permission = "ledger.enrol"   // re-enrol the station with the centre after its database was lost
	OfflineStart  Permission = "ledger.offline" // print after a restart while the centre cannot confirm the ledger (with a reason)
	PrinterDiag   Permission = "printer.diag"   // run a printer's diagnostics: test card, cleaning, sensor adjust, reader test
	AuditRead     Permission = "audit.read"     // verify and reconcile the ledger, export it, read the people log, the berita acara
	StockRequest  Permission = "stock.request"  // ask the centre for more blanks; announce the day's stock
)

// Table says which roles hold each permission. Separation of duties: the
// admin who makes accounts (and re-enrols the station) runs no cards, the
// auditor changes nothing.
var Table = map[Permission][]Role{
	View:          {Operator, Supervisor, Technician, Auditor, Admin},
	BatchRun:      {Operator, Supervisor},
	BatchCancel:   {Supervisor},
	JobRetry:      {Operator, Supervisor},
	JobDecide:     {Supervisor},
	PrinterResume: {Operator, Supervisor, Technician},
	StockMove:     {Operator, Supervisor},
	StockControl:  {Operator, Supervisor},
	Witness:       {Operator, Supervisor, Auditor},
	ManageUsers:   {Admin},
	LedgerEnrol:   {Admin},
	OfflineStart:  {Supervisor},
	PrinterDiag:   {Technician},
	AuditRead:     {Supervisor, Auditor},
	StockRequest:  {Supervisor},
}

// Permissions lists the table's permissions in a fixed order (for tests
// and help).
func Permissions() []Permission {
	out := make([]Permission, 0, len(Table))
	for p := range Table {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Allows says whether any of roles holds p. An unknown permission is
// allowed to no one.
func Allows(roles []Role, p Permission) bool {
	for _, r := range Table[p] {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}

// RolesWith lists the roles that hold p, for messages ("a supervisor must
// do this").
func RolesWith(p Permission) []Role { return Table[p] }
