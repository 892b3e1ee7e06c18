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

// Rights is what an actor may do beyond its own domains' objects and its
// own account and tokens: what the faces offer (links, form fields). It
// summarises the checks the operations make; every operation checks
// again, and its answer is the one the faces show.
type Rights struct {
	// Domains: create and delete domains and alias domains, change a
	// domain's kind, next hop or active flag, raise its limits.
	Domains bool
	// Admins: see and manage every admin, and every admin's tokens.
	Admins bool
	// Queue: see and change the mail queue.
	Queue bool
	// LoginBlocks: see and lift the login throttle's blocks.
	LoginBlocks bool
	// Policy: every access rule (client, HELO, sender and recipient, any
	// action) and every relocated entry; without it, only the recipient
	// rules and relocated entries of the admin's own domains.
	Policy bool
}

// Rights returns what a may do.
func (a Actor) Rights() Rights {
	return Rights{Domains: a.Superadmin, Admins: a.MayManageAdmins() == nil, Queue: queueAllowed(a) == nil,
		LoginBlocks: loginBlocksAllowed(a) == nil, Policy: a.Superadmin}
}

// MayManageAdmins returns nil when a may list, create and delete admins,
// else the Forbidden error those operations return (the panel asks it
// before it shows the new-admin form).
func (a Actor) MayManageAdmins() error {
	if !a.Superadmin {
		return newErr(Forbidden, "only a super-admin may manage admins")
	}
	return nil
}

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
