package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"mailhost/admin"
	"mailhost/auth"
)

// App passwords through the API: created for chosen protocols with the
// secret in the answer only, listed with their use, revoked; bad input
// named by field; another domain's admin sees nothing.
func TestAppPasswordsAPI(t *testing.T) {
	e := newEnv(t)
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "other.example"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	other := e.admin("bob", false, "other.example")
	base := "/api/v1/mailboxes/alice@example.com/app-passwords"

	r := e.do(super, "POST", base, map[string]any{"name": "", "protocols": []string{"imap", "gopher"}})
	e.problem(422, "validation", r)
	if f := fieldErrors(r); !equal(f, []string{"name", "protocols[1]"}) {
		t.Fatalf("fields %v", f)
	}
	p := e.must(201, e.do(super, "POST", base, map[string]any{"name": "phone", "protocols": []string{"imap", "smtp"}})).body
	secret, _ := p["password"].(string)
	if _, ok := auth.AppPasswordHash(secret); !ok || p["address"] != "alice@example.com" {
		t.Fatalf("created %v", p)
	}
	e.problem(409, "conflict", e.do(super, "POST", base, map[string]any{"name": "phone", "protocols": []string{"pop3"}}))
	e.problem(404, "not-found", e.do(other, "GET", base, nil))
	items := e.must(200, e.do(super, "GET", base, nil)).body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["password"] != nil || items[0].(map[string]any)["last_used_at"] != nil {
		t.Fatalf("list %v", items)
	}
	id := fmt.Sprint(p["id"])
	e.problem(404, "not-found", e.do(other, "DELETE", base+"/"+id, nil))
	e.must(204, e.do(super, "DELETE", base+"/"+id, nil))
	e.problem(404, "not-found", e.do(super, "DELETE", base+"/"+id, nil))
	if n := len(e.must(200, e.do(super, "GET", base, nil)).body["items"].([]any)); n != 0 {
		t.Fatalf("%d left after revoke", n)
	}
}

// Second factors through the API: their state, the super-admin's reset of
// an admin's, a domain admin's reset of its owners', and the policy.
func TestSecondFactorAPI(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	super := e.admin("root", true)
	e.must(201, e.do(super, "POST", "/api/v1/domains", map[string]any{"name": "example.com"}))
	e.must(201, e.do(super, "POST", "/api/v1/domains/example.com/mailboxes", map[string]any{"local_part": "alice", "password": "password1"}))
	da := e.admin("dom", false, "example.com")
	enrol := func(c admin.Account) {
		t.Helper()
		en, err := e.svc.BeginTOTP(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		code, _ := totp.GenerateCode(en.Secret, time.Now())
		if _, err := e.svc.ConfirmTOTP(ctx, c, code); err != nil {
			t.Fatal(err)
		}
	}
	ad, _ := e.st.Read().AdminByUsername(ctx, "dom")
	m, _ := e.st.Read().MailboxByAddress(ctx, "alice@example.com", false)
	enrol(admin.Account{AdminID: ad.ID})
	enrol(admin.Account{MailboxID: m.ID})

	if v := e.must(200, e.do(da, "GET", "/api/v1/admins/dom/totp", nil)).body; v["enabled"] != true || v["recovery_codes_left"] != float64(10) {
		t.Fatalf("own state %v", v)
	}
	e.problem(403, "forbidden", e.do(da, "DELETE", "/api/v1/admins/dom/totp", nil))
	e.must(204, e.do(super, "DELETE", "/api/v1/admins/dom/totp", nil))
	e.problem(404, "not-found", e.do(super, "DELETE", "/api/v1/admins/dom/totp", nil))
	if v := e.must(200, e.do(super, "GET", "/api/v1/admins/dom/totp", nil)).body; v["enabled"] != false {
		t.Fatalf("after reset %v", v)
	}
	if v := e.must(200, e.do(da, "GET", "/api/v1/mailboxes/alice@example.com/totp", nil)).body; v["enabled"] != true {
		t.Fatalf("owner state %v", v)
	}
	e.must(204, e.do(da, "DELETE", "/api/v1/mailboxes/alice@example.com/totp", nil))

	e.problem(403, "forbidden", e.do(da, "GET", "/api/v1/security-policy", nil))
	e.problem(403, "forbidden", e.do(da, "PATCH", "/api/v1/security-policy", map[string]any{"require_admin_totp": true}))
	if v := e.must(200, e.do(super, "PATCH", "/api/v1/security-policy", map[string]any{"require_admin_totp": true})).body; v["require_admin_totp"] != true {
		t.Fatalf("policy %v", v)
	}
	if v := e.must(200, e.do(super, "GET", "/api/v1/security-policy", nil)).body; v["require_admin_totp"] != true {
		t.Fatalf("policy %v", v)
	}
	var n int
	if err := e.st.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE object_type IN ('second_factor', 'security_policy')`).Scan(&n); err != nil || n != 5 {
		t.Fatalf("%d audit rows, %v; want 2 enables, 2 resets, 1 policy change", n, err)
	}
}
