package admin

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"mailhost/store"
	"mailhost/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func TestNormPattern(t *testing.T) {
	for _, tc := range []struct{ kind, in, want string }{
		{"client", "192.0.2.1", "192.0.2.1"},
		{"client", "::FFFF:192.0.2.1", "192.0.2.1"},
		{"client", "192.0.2.0/24", "192.0.2.0/24"},
		{"client", "2001:DB8:0::/48", "2001:db8::/48"},
		{"client", "192.0.2", "192.0.2"},
		{"client", "10", "10"},
		{"helo", "Mail.Example.COM.", "mail.example.com"},
		{"helo", ".example.com", ".example.com"},
		{"helo", "localhost", "localhost"},
		{"helo", "192.0.2.1", "192.0.2.1"},
		{"helo", "[192.0.2.1]", "[192.0.2.1]"},
		{"helo", "[IPv6:2001:DB8::1]", "[ipv6:2001:db8::1]"},
		{"helo", "bücher.example", "xn--bcher-kva.example"},
		{"sender", "<>", "<>"},
		{"sender", "User@Example.COM", "user@example.com"},
		{"sender", "@Example.com", "@example.com"},
		{"sender", "example.com", "example.com"},
		{"sender", ".example.com", ".example.com"},
		{"sender", "MAILER-DAEMON@", "mailer-daemon@"},
		{"recipient", " info@bücher.example ", "info@xn--bcher-kva.example"},
	} {
		got, err := normPattern(tc.kind, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("normPattern(%s, %q) = %q, %v; want %q", tc.kind, tc.in, got, err, tc.want)
		}
	}
	for _, tc := range []struct{ kind, in, says string }{
		{"client", "", "required"},
		{"client", "192.0.2.1/24", "the network is 192.0.2.0/24"},
		{"client", "::ffff:192.0.2.0/120", "as IPv4"},
		{"client", "fe80::1%eth0", "zone"},
		{"client", "192.0.256", "over 255"},
		{"client", "01.2", "IP address"},
		{"client", "mail.example.com", "IP address"},
		{"client", "192.0.2.1 192.0.2.2", "spaces"},
		{"helo", "[192.0.2.1", "address literal"},
		{"helo", "[IPv6:192.0.2.1]", "address literal"},
		{"helo", "under_score.example", "not a valid domain name"},
		{"sender", "a@@b.example", ""},
		{"sender", "@", "empty domain"},
		{"recipient", "<>", "sender pattern"},
		{"recipient", "x@192.0.2.1", "IP address"},
	} {
		got, err := normPattern(tc.kind, tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("normPattern(%s, %q) = %q, %v; want an error saying %q", tc.kind, tc.in, got, err, tc.says)
		}
	}
}

func TestCheckAction(t *testing.T) {
	code := func(n int) *int { return &n }
	for _, tc := range []struct {
		action string
		code   *int
		text   string
		want   string
		fields []string
	}{
		{"ok", nil, "", "OK", nil},
		{"DUNNO", code(0), "", "DUNNO", nil},
		{"reject", nil, "go away", "REJECT go away", nil},
		{"REJECT", code(554), "5.7.1 go away", "REJECT 5.7.1 go away", nil},
		{"REJECT", code(550), "", "550", nil},
		{"", code(550), "no", "550 no", nil},
		{"", code(421), "4.7.0 busy", "421 4.7.0 busy", nil},
		{"DEFER", nil, "", "DEFER", nil},
		{"DEFER", code(451), "later", "451 later", nil},
		{"DISCARD", nil, "spam trap", "DISCARD spam trap", nil},
		{"HOLD", nil, "", "HOLD", nil},
		{"", nil, "", "", []string{"action"}},
		{"ACCEPT", nil, "", "", []string{"action"}},
		{"OK", nil, "x", "", []string{"text"}},
		{"HOLD", code(450), "", "", []string{"code"}},
		{"REJECT", code(450), "", "", []string{"code"}},
		{"DEFER", code(550), "", "", []string{"code"}},
		{"DEFER", nil, "5.7.1 wrong class", "", []string{"text"}},
		{"REJECT", nil, "tab\there", "", []string{"text"}},
	} {
		var f fields
		got := checkAction(&f, tc.action, tc.code, tc.text)
		var names []string
		for _, fe := range f.list {
			names = append(names, fe.Field)
		}
		if strings.Join(names, ",") != strings.Join(tc.fields, ",") || tc.fields == nil && got != tc.want {
			t.Errorf("checkAction(%q, %v, %q) = %q, %v; want %q, %v", tc.action, tc.code, tc.text, got, f.list, tc.want, tc.fields)
		}
		if tc.fields == nil {
			// What is stored reads back as what was meant.
			act, c, text := parseRule(got)
			if formatRule(act, c, text) != got {
				t.Errorf("%q reads back as %s %d %q", got, act, c, text)
			}
		}
	}
}

// FuzzNormPattern: a normalised pattern is a fixed point, one word, and
// what the schema accepts (not empty, lower case).
func FuzzNormPattern(f *testing.F) {
	for _, s := range []string{"192.0.2.0/24", "10.1", "::1", "Example.COM", ".x.example", "<>", "u@", "@d.example",
		"a@b.example", "[IPv6:::1]", "[1.2.3.4]", "localhost", "xn--bcher-kva.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, kind := range []string{AccessClient, AccessHelo, AccessSender, AccessRecipient} {
			p, err := normPattern(kind, in)
			if err != nil {
				continue
			}
			again, err := normPattern(kind, p)
			if err != nil || again != p {
				t.Fatalf("%s %q -> %q -> %q, %v", kind, in, p, again, err)
			}
			if p == "" || p != strings.ToLower(p) || strings.ContainsAny(p, " \t\r\n") {
				t.Fatalf("%s %q -> %q", kind, in, p)
			}
		}
	})
}

// TestAccessRulePermissionsAndAudit: the service decides who may touch
// which rule, and writes one audit row per change with its actor.
func TestAccessRulePermissionsAndAudit(t *testing.T) {
	ctx := context.Background()
	st := testdb.Open(t)
	s := New(st, Options{})
	str := func(v string) *string { return &v }
	var ids []int64
	for _, d := range []string{"a.example", "b.example"} {
		v, err := s.CreateDomain(ctx, CLI(), DomainInput{Name: str(d)})
		if err != nil {
			t.Fatal(err)
		}
		dm, err := st.Read().DomainByName(ctx, v.Name, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, dm.ID)
	}
	da := Actor{Kind: "admin", Username: "da", DomainIDs: ids[:1], Remote: "192.0.2.50"}

	rb, err := s.CreateAccessRule(ctx, CLI(), AccessRuleInput{Kind: str("recipient"), Pattern: str("x@b.example"), Action: str("REJECT")})
	if err != nil {
		t.Fatal(err)
	}
	ra, err := s.CreateAccessRule(ctx, da, AccessRuleInput{Kind: str("recipient"), Pattern: str("X@A.example"), Action: str("REJECT"), Text: str("gone")})
	if err != nil {
		t.Fatal(err)
	}
	if ra.Domain != "a.example" || ra.Rule != "REJECT gone" {
		t.Fatalf("created %+v", ra)
	}
	// Another domain's rule does not exist for the domain admin.
	for _, err := range []error{
		func() error { _, err := s.AccessRule(ctx, da, strconv.FormatInt(rb.ID, 10)); return err }(),
		func() error {
			_, err := s.UpdateAccessRule(ctx, da, strconv.FormatInt(rb.ID, 10), AccessRuleInput{Action: str("OK")})
			return err
		}(),
		s.DeleteAccessRule(ctx, da, strconv.FormatInt(rb.ID, 10)),
		func() error { _, err := s.FindAccessRule(ctx, da, "recipient", "x@b.example"); return err }(),
	} {
		if !errors.Is(err, ErrNotFound) {
			t.Errorf("domain admin on b.example's rule: %v, want not found", err)
		}
	}
	if _, err := s.CreateAccessRule(ctx, da, AccessRuleInput{Kind: str("helo"), Pattern: str("x.example"), Action: str("OK")}); !errors.Is(err, ErrForbidden) {
		t.Errorf("domain admin's HELO rule: %v, want forbidden", err)
	}
	var ve *ValidationError
	if _, err := s.CreateAccessRule(ctx, da, AccessRuleInput{Kind: str("recipient"), Pattern: str("@b.example"), Action: str("OK")}); !errors.As(err, &ve) {
		t.Errorf("domain admin's rule for b.example: %v", err)
	}
	if l, err := s.AccessRules(ctx, da, AccessRuleParams{}); err != nil || len(l.Items) != 1 || l.Items[0].ID != ra.ID {
		t.Errorf("domain admin's list: %+v, %v", l, err)
	}
	if _, err := s.UpdateAccessRule(ctx, da, strconv.FormatInt(ra.ID, 10), AccessRuleInput{Text: str("moved to sales@a.example")}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAccessRule(ctx, da, strconv.FormatInt(ra.ID, 10)); err != nil {
		t.Fatal(err)
	}
	// The relocated entries follow the same rules.
	if _, err := s.CreateRelocated(ctx, da, RelocatedInput{Address: str("old@b.example"), NewLocation: str("new@c.example")}); !errors.As(err, &ve) {
		t.Errorf("domain admin's relocated entry in b.example: %v", err)
	}
	if _, err := s.CreateRelocated(ctx, da, RelocatedInput{Address: str("old@a.example"), NewLocation: str("new@c.example")}); err != nil {
		t.Fatal(err)
	}

	rows, err := st.Read().ListAudit(ctx, store.AuditFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rows {
		if e.ObjectType == "domain" {
			continue
		}
		got = append(got, strings.Join([]string{e.Action, e.ObjectType, e.Object, e.Domain, e.Actor, e.RemoteAddr}, "|"))
	}
	want := []string{
		"create|relocated|old@a.example|a.example|da|192.0.2.50",
		"delete|access_rule|recipient x@a.example|a.example|da|192.0.2.50",
		"update|access_rule|recipient x@a.example|a.example|da|192.0.2.50",
		"create|access_rule|recipient x@a.example|a.example|da|192.0.2.50",
		"create|access_rule|recipient x@b.example|b.example|cli|",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A refused change writes no row: only the five above.
}
