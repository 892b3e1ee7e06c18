package permtest_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// request is one request of a face. In paths, bodies and form values,
// {k} stands for what the case's prep made and {self} for the actor's own
// user name.
type request struct {
	method, path string
	body         any        // the API's JSON body
	form         url.Values // the panel's form (nil: a GET)
}

type obj = map[string]any

func call(method, path string, body any) request {
	return request{method: method, path: path, body: body}
}

func get(path string) request { return request{method: "GET", path: path} }

func post(path string, kv ...string) request {
	f := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return request{method: "POST", path: path, form: f}
}

// permCase is one action, as each face spells it, and who may do it.
type permCase struct {
	name  string
	prep  func(e *env) string // makes a fresh object to act on, as the CLI; nil: none
	api   request
	panel request
	allow []actor
	// refusedField: the service refuses this action with an error on
	// that field (422), which counts as a refusal; "" for none.
	refusedField string
}

var (
	everyAdmin = []actor{super, adminA, adminB}
	ofA        = []actor{super, adminA}
	superOnly  = []actor{super}
)

// The matrix: one table for both faces. The owner has no API token (the
// API answers it 401) and no admin page in the panel (404); a domain
// admin acting on another domain's objects gets 404 from both, on the
// super-admin's things 403 (the panel's queue pages answer 404 for it).
var matrix = []permCase{
	// Domains.
	{name: "list domains", allow: everyAdmin, api: get("/domains"), panel: get("/domains")},
	{name: "read a domain", allow: ofA, api: get("/domains/a.example"), panel: get("/domains/a.example")},
	{name: "read a domain's DNS records", allow: ofA, api: get("/domains/a.example/dns"), panel: get("/domains/a.example/dns")},
	{name: "create a domain", allow: superOnly, prep: func(e *env) string { return e.unique("new") + ".example" },
		api: call("POST", "/domains", obj{"name": "{k}"}), panel: post("/domains/new", "name", "{k}", "active", "on")},
	{name: "change a domain's description", allow: ofA,
		api:   call("PATCH", "/domains/a.example", obj{"description": "{self} was here"}),
		panel: post("/domains/a.example/edit", "description", "{self} was here")},
	{name: "raise a domain's limit", allow: superOnly, prep: func(e *env) string { e.limitA(100); return "" },
		api:   call("PATCH", "/domains/a.example", obj{"max_mailboxes": 200}),
		panel: post("/domains/a.example/edit", "max_mailboxes", "200")},
	{name: "deactivate a domain", allow: superOnly, prep: (*env).domainOfA,
		api: call("PATCH", "/domains/{k}", obj{"active": false}), panel: post("/domains/{k}/active", "active", "false")},
	{name: "delete a domain", allow: superOnly, prep: (*env).domainOfA,
		api: call("DELETE", "/domains/{k}", nil), panel: post("/domains/{k}/delete")},

	// Mailboxes, their forwarding and vacation reply.
	{name: "list mailboxes", allow: ofA, api: get("/domains/a.example/mailboxes"), panel: get("/domains/a.example/mailboxes")},
	{name: "read a mailbox", allow: ofA, api: get("/mailboxes/user@a.example"), panel: get("/mailboxes/user@a.example")},
	{name: "create a mailbox", allow: ofA, prep: func(e *env) string { return e.unique("new") },
		api:   call("POST", "/domains/a.example/mailboxes", obj{"local_part": "{k}", "password": pw}),
		panel: post("/domains/a.example/mailboxes/new", "local_part", "{k}", "password", pw, "active", "on")},
	{name: "change a mailbox", allow: ofA, prep: (*env).mailbox,
		api: call("PATCH", "/mailboxes/{k}", obj{"name": "Changed"}), panel: post("/mailboxes/{k}", "name", "Changed", "active", "on")},
	{name: "delete a mailbox", allow: ofA, prep: (*env).mailbox,
		api: call("DELETE", "/mailboxes/{k}", nil), panel: post("/mailboxes/{k}/delete")},
	{name: "set a mailbox's forwarding", allow: ofA,
		api:   call("PUT", "/mailboxes/user@a.example/forwarding", obj{"destinations": []string{"x@remote.example"}}),
		panel: post("/mailboxes/user@a.example/forwarding", "destinations", "x@remote.example", "active", "on")},
	{name: "set a mailbox's vacation reply", allow: ofA,
		api:   call("PUT", "/mailboxes/user@a.example/vacation", obj{"subject": "away", "body": "back soon"}),
		panel: post("/mailboxes/user@a.example/vacation", "subject", "away", "body", "back soon", "active", "on")},

	// Aliases and alias domains.
	{name: "list aliases", allow: ofA, api: get("/domains/a.example/aliases"), panel: get("/domains/a.example/aliases")},
	{name: "create an alias", allow: ofA, prep: func(e *env) string { return e.unique("new") + "@a.example" },
		api:   call("POST", "/domains/a.example/aliases", obj{"address": "{k}", "destinations": []string{"user@a.example"}}),
		panel: post("/domains/a.example/aliases/new", "address", "{k}", "destinations", "user@a.example", "active", "on")},
	{name: "change an alias", allow: ofA, prep: (*env).alias,
		api:   call("PATCH", "/aliases/{k}", obj{"destinations": []string{"user@a.example", "x@remote.example"}}),
		panel: post("/aliases/{k}", "destinations", "user@a.example\nx@remote.example", "active", "on")},
	{name: "delete an alias", allow: ofA, prep: (*env).alias,
		api: call("DELETE", "/aliases/{k}", nil), panel: post("/aliases/{k}/delete")},
	{name: "list alias domains", allow: everyAdmin, api: get("/alias-domains"), panel: get("/alias-domains")},
	{name: "create an alias domain", allow: superOnly, prep: func(e *env) string { return e.unique("new") + ".example.net" },
		api:   call("POST", "/alias-domains", obj{"alias_domain": "{k}", "target_domain": "a.example"}),
		panel: post("/alias-domains/new", "alias_domain", "{k}", "target_domain", "a.example", "active", "on")},
	{name: "delete an alias domain", allow: superOnly, prep: (*env).aliasDomain,
		api: call("DELETE", "/alias-domains/{k}", nil), panel: post("/alias-domains/{k}/delete")},

	// Admins.
	{name: "list admins", allow: superOnly, api: get("/admins"), panel: get("/admins")},
	{name: "create an admin", allow: superOnly, prep: func(e *env) string { return e.unique("new") },
		api:   call("POST", "/admins", obj{"username": "{k}", "password": pw, "domains": []string{"a.example"}}),
		panel: post("/admins/new", "username", "{k}", "password", pw, "domains", "a.example", "active", "on")},
	{name: "change another admin's rights", allow: superOnly, prep: (*env).admin,
		api:   call("PATCH", "/admins/{k}", obj{"active": false, "domains": []string{"a.example"}}),
		panel: post("/admins/{k}", "domains", "a.example")}, // the active box unticked
	{name: "delete an admin", allow: superOnly, prep: (*env).admin,
		api: call("DELETE", "/admins/{k}", nil), panel: post("/admins/{k}/delete")},
	{name: "change one's own password", allow: everyAdmin,
		api:   call("PATCH", "/admins/{self}", obj{"password": pw}),
		panel: post("/account/password", "current_password", pw, "password", pw)},

	// API tokens.
	{name: "list tokens", allow: everyAdmin, api: get("/tokens"), panel: get("/tokens")},
	{name: "create one's own token", allow: everyAdmin, prep: func(e *env) string { return e.unique("tok") },
		api: call("POST", "/tokens", obj{"name": "{k}"}), panel: post("/tokens/new", "name", "{k}")},
	{name: "create a token for the super-admin", allow: superOnly, prep: func(e *env) string { return e.unique("tok") },
		api:   call("POST", "/tokens", obj{"name": "{k}", "admin": "root"}),
		panel: post("/tokens/new", "name", "{k}", "admin", "root")},
	{name: "revoke a token of a.example's admin", allow: ofA, prep: func(e *env) string { return e.tokenOf("alice") },
		api: call("DELETE", "/tokens/{k}", nil), panel: post("/tokens/{k}/revoke")},
	{name: "revoke a token of the super-admin", allow: superOnly, prep: func(e *env) string { return e.tokenOf("root") },
		api: call("DELETE", "/tokens/{k}", nil), panel: post("/tokens/{k}/revoke")},

	// The mail queue.
	{name: "list the queue", allow: superOnly, api: get("/queue"), panel: get("/queue")},
	{name: "show a queued message", allow: superOnly, prep: (*env).queued, api: get("/queue/{k}"), panel: get("/queue/{k}")},
	{name: "hold a queued message", allow: superOnly, prep: (*env).queued,
		api: call("POST", "/queue/{k}/hold", nil), panel: post("/queue/{k}/hold")},
	{name: "delete a queued message", allow: superOnly, prep: (*env).queued,
		api: call("DELETE", "/queue/{k}", nil), panel: post("/queue/{k}/delete")},
	{name: "flush the queue", allow: superOnly, api: call("POST", "/queue/flush", obj{}), panel: post("/queue/flush")},

	// The login throttle's blocks.
	{name: "list login blocks", allow: superOnly, api: get("/auth/blocks"), panel: get("/auth/blocks")},
	{name: "lift a login block", allow: superOnly, prep: (*env).loginBlock,
		api: call("POST", "/auth/unblock", obj{"target": "{k}"}), panel: post("/auth/blocks/unblock", "target", "{k}")},

	// Access rules and relocated addresses: a domain admin manages its
	// domains' recipient rules (OK, DUNNO, REJECT, DEFER) and relocated
	// entries; the rest is the super-admin's.
	{name: "list access rules", allow: everyAdmin, api: get("/access-rules"), panel: get("/access")},
	{name: "create a recipient rule of a.example", allow: ofA, refusedField: "pattern", prep: func(e *env) string { return e.unique("r") + "@a.example" },
		api:   call("POST", "/access-rules", obj{"kind": "recipient", "pattern": "{k}", "action": "REJECT"}),
		panel: post("/access/new", "kind", "recipient", "pattern", "{k}", "action", "REJECT")},
	{name: "create a client rule", allow: superOnly, prep: func(e *env) string { return e.uniqueNet() },
		api:   call("POST", "/access-rules", obj{"kind": "client", "pattern": "{k}", "action": "REJECT"}),
		panel: post("/access/new", "kind", "client", "pattern", "{k}", "action", "REJECT")},
	{name: "create a DISCARD recipient rule of a.example", allow: superOnly, refusedField: "action", prep: func(e *env) string { return e.unique("r") + "@a.example" },
		api:   call("POST", "/access-rules", obj{"kind": "recipient", "pattern": "{k}", "action": "DISCARD"}),
		panel: post("/access/new", "kind", "recipient", "pattern", "{k}", "action", "DISCARD")},
	{name: "change a recipient rule of a.example", allow: ofA, prep: (*env).accessRuleOfA,
		api: call("PATCH", "/access-rules/{k}", obj{"action": "DEFER"}), panel: post("/access/{k}", "action", "DEFER")},
	{name: "delete a recipient rule of a.example", allow: ofA, prep: (*env).accessRuleOfA,
		api: call("DELETE", "/access-rules/{k}", nil), panel: post("/access/{k}/delete")},
	// A domain's inbound policy (sender checks): its admins.
	{name: "show the inbound policy of a.example", allow: ofA,
		api: get("/domains/a.example/inbound-policy"), panel: get("/domains/a.example/inbound-policy")},
	{name: "change the inbound policy of a.example", allow: ofA,
		api:   call("PATCH", "/domains/a.example/inbound-policy", obj{"dmarc": "mark"}),
		panel: post("/domains/a.example/inbound-policy", "dmarc", "mark", "spf_fail", "mark")},
	// A domain's Sieve scripts: its admins.
	{name: "list the Sieve scripts of a.example", allow: ofA,
		api: get("/domains/a.example/sieve/scripts"), panel: get("/domains/a.example/sieve")},
	{name: "write a Sieve script of a.example", allow: ofA, prep: func(e *env) string { return e.unique("s") },
		api:   call("PUT", "/domains/a.example/sieve/scripts/{k}", obj{"content": "keep;"}),
		panel: post("/domains/a.example/sieve/new", "name", "{k}", "position", "before", "content", "keep;")},
	{name: "delete a Sieve script of a.example", allow: ofA, prep: (*env).domainSieveOfA,
		api: call("DELETE", "/domains/a.example/sieve/scripts/{k}", nil), panel: post("/domains/a.example/sieve/{k}/delete")},
	{name: "list relocated addresses", allow: everyAdmin, api: get("/relocated"), panel: get("/relocated")},
	{name: "relocate an address of a.example", allow: ofA, refusedField: "address", prep: func(e *env) string { return e.unique("gone") + "@a.example" },
		api:   call("POST", "/relocated", obj{"address": "{k}", "new_location": "x@remote.example"}),
		panel: post("/relocated/new", "address", "{k}", "new_location", "x@remote.example")},
	{name: "delete a relocated address of a.example", allow: ofA, prep: (*env).relocatedOfA,
		api: call("DELETE", "/relocated/{k}", nil), panel: post("/relocated/{k}/delete")},

	// The audit log: everyone admin sees the entries of its domains.
	{name: "read the audit log", allow: everyAdmin, api: get("/audit-log"), panel: get("/audit")},

	// App passwords: the admins of the mailbox's domain; its owner in the
	// panel (/me, below).
	{name: "list a mailbox's app passwords", allow: ofA,
		api: get("/mailboxes/user@a.example/app-passwords"), panel: get("/mailboxes/user@a.example/app-passwords")},
	{name: "create an app password for a mailbox", allow: ofA, prep: func(e *env) string { return e.unique("app") },
		api:   call("POST", "/mailboxes/user@a.example/app-passwords", obj{"name": "{k}", "protocols": []string{"imap"}}),
		panel: post("/mailboxes/user@a.example/app-passwords", "name", "{k}", "protocols", "imap")},
	{name: "revoke an app password of a mailbox", allow: ofA, prep: (*env).appPasswordOfUser,
		api: call("DELETE", "/mailboxes/user@a.example/app-passwords/{k}", nil), panel: post("/mailboxes/user@a.example/app-passwords/{k}/revoke")},

	// Second factors: an owner's is its domain's admins' to see and reset,
	// an admin's the super-admin's; the policy is the super-admin's.
	{name: "show a mailbox owner's second factor", allow: ofA,
		api: get("/mailboxes/user@a.example/totp"), panel: get("/mailboxes/user@a.example/totp")},
	{name: "reset a mailbox owner's second factor", allow: ofA, prep: (*env).mailboxWithTOTP,
		api: call("DELETE", "/mailboxes/{k}/totp", nil), panel: post("/mailboxes/{k}/totp/reset")},
	{name: "show another admin's second factor", allow: superOnly, prep: (*env).admin,
		api: get("/admins/{k}/totp"), panel: get("/admins/{k}/totp")},
	{name: "reset an admin's second factor", allow: superOnly, prep: (*env).adminWithTOTP,
		api: call("DELETE", "/admins/{k}/totp", nil), panel: post("/admins/{k}/totp/reset")},
	{name: "read the security policy", allow: superOnly, api: get("/security-policy"), panel: get("/security")},
	{name: "change the security policy", allow: superOnly,
		api:   call("PATCH", "/security-policy", obj{"require_admin_totp": false}),
		panel: post("/security", "require_admin_totp", "off")},

	// One's own second factor and app passwords: the panel alone (the API
	// has no owner logins, and enrolling protects the panel).
	{name: "open one's own second factor enrolment", allow: everyAdmin, panel: get("/account/totp")},
	{name: "open the owner's second factor enrolment", allow: []actor{owner}, panel: get("/me/totp")},
	{name: "list the owner's app passwords", allow: []actor{owner}, panel: get("/me/app-passwords")},
	{name: "create an app password as the owner", allow: []actor{owner}, prep: func(e *env) string { return e.unique("own") },
		panel: post("/me/app-passwords", "name", "{k}", "protocols", "imap", "protocols", "smtp")},
	{name: "revoke an app password as the owner", allow: []actor{owner}, prep: (*env).appPasswordOfUser,
		panel: post("/me/app-passwords/{k}/revoke")},
}

// TestPermissionMatrix runs every case as every actor on both faces: each
// face must answer as the table says, so the two agree.
func TestPermissionMatrix(t *testing.T) {
	e := newEnv(t)
	e.fixture()
	for _, c := range matrix {
		for _, a := range actors {
			want := refused
			if slices.Contains(c.allow, a) {
				want = allowed
			}
			k := ""
			if c.prep != nil {
				k = c.prep(e)
			}
			gotAPI, codeAPI := want, 0 // a case of the panel alone
			if c.api.method != "" {
				r := c.api.expand(k, a)
				gotAPI, codeAPI = e.apiCall(a, r.method, r.path, r.body, c.refusedField)
				e.stayLoggedIn(a) // a password changed through the API ends the panel's sessions
				if c.prep != nil {
					k = c.prep(e) // a fresh object: the API may have changed or removed the first
				}
			}
			r := c.panel.expand(k, a)
			gotPanel, codePanel := e.panelCall(a, r.method, r.path, r.form, c.refusedField)
			if gotAPI != want || gotPanel != want {
				t.Errorf("%s, as %s: want %s; API %s (%d), panel %s (%d)", c.name, a, want, gotAPI, codeAPI, gotPanel, codePanel)
			}
		}
	}
}

// expand puts k and a's user name into the request.
func (r request) expand(k string, a actor) request {
	rep := strings.NewReplacer("{k}", k, "{self}", a.username())
	out := request{method: r.method, path: rep.Replace(r.path)}
	if r.body != nil {
		j, err := json.Marshal(r.body)
		if err != nil {
			panic(err)
		}
		out.body = json.RawMessage(rep.Replace(string(j)))
	}
	if r.form != nil {
		out.form = url.Values{}
		for name, vs := range r.form {
			for _, v := range vs {
				out.form.Add(name, rep.Replace(v))
			}
		}
	}
	return out
}
