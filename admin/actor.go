package admin

import (
	"slices"
	"strconv"
)

// Actor is who makes a request: an admin (web login), an API token acting
// with its admin's rights, or the command line (full rights).
type Actor struct {
	Kind       string  // "admin", "token", "cli" or "system"
	AdminID    int64   // 0 for cli and system
	Username   string  // the admin's user name
	TokenID    int64   // for Kind "token"
	Superadmin bool    // full rights
	DomainIDs  []int64 // domains a non-super admin manages
	Remote     string  // client address, for the audit log
}

// CLI is the command line's actor: full rights, audited as "cli".
func CLI() Actor { return Actor{Kind: "cli", Superadmin: true, Username: "cli"} }

// System is mailhost's own actor (periodic purges).
func System() Actor { return Actor{Kind: "system", Superadmin: true, Username: "system"} }

func (a Actor) canDomain(id int64) bool {
	return a.Superadmin || slices.Contains(a.DomainIDs, id)
}

// auditName is the audit log's actor column.
func (a Actor) auditName() string {
	switch a.Kind {
	case "token":
		return "token:" + strconv.FormatInt(a.TokenID, 10) + " (" + a.Username + ")"
	case "admin", "user": // a mailbox owner (web panel) is audited by its address
		return a.Username
	}
	return a.Kind
}
