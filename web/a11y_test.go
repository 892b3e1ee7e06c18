package web_test

import (
	"regexp"
	"strings"
	"testing"
)

var (
	controlRE = regexp.MustCompile(`<(input|textarea|select)\b[^>]*>`)
	attrRE    = regexp.MustCompile(`\b(type|id|aria-label)="([^"]*)"`)
)

// Every page: one h1, the landmarks, and a label for every control.
func TestPagesAccessible(t *testing.T) {
	e := newEnv(t, withSetup("tok"))
	super, owner := e.client(), e.client()
	anon := e.client()
	checkPage(t, "/setup?token=tok", anon.get("/setup?token=tok").must(t, 200))
	e.admin("root", true)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	checkPage(t, "/login", anon.get("/login").must(t, 200))
	super.login("root", pw, "/")
	super.post("/domains/example.com/aliases/new", "address", "info", "destinations", "alice@example.com", "active", "on")
	super.post("/alias-domains/new", "alias_domain", "example.net", "target_domain", "example.com", "active", "on")
	super.post("/tokens/new", "name", "t", "admin", "root")
	_, qid := e.enqueue("alice@example.com", "bob@remote.example")
	for _, p := range []string{"/", "/domains", "/domains/new", "/domains/example.com", "/domains/example.com/edit", "/domains/example.com/dns",
		"/domains/example.com/delete", "/domains/example.com/mailboxes", "/domains/example.com/mailboxes/new",
		"/mailboxes/alice@example.com", "/mailboxes/alice@example.com/delete", "/mailboxes/alice@example.com/forwarding",
		"/mailboxes/alice@example.com/vacation", "/domains/example.com/aliases", "/domains/example.com/aliases/new",
		"/aliases/info@example.com", "/aliases/info@example.com/delete", "/alias-domains", "/alias-domains/new",
		"/alias-domains/example.net/delete", "/audit", "/admins", "/admins/new", "/admins/root", "/tokens", "/tokens/new",
		"/account/password", "/queue", "/queue/" + qid, "/queue/" + qid + "?body=1", "/queue/" + qid + "/delete", "/nowhere"} {
		res := super.get(p)
		if res.code != 200 && p != "/nowhere" {
			t.Fatalf("%s: %d", p, res.code)
		}
		checkPage(t, p, res)
	}
	// Pages showing form errors too.
	checkPage(t, "queue filter errors", super.get("/queue?state=bogus").must(t, 422))
	checkPage(t, "mailbox errors", super.post("/domains/example.com/mailboxes/new", "local_part", "", "password", "x").must(t, 422))
	owner.login("alice@example.com", pw, "/me")
	for _, p := range []string{"/me", "/me/password", "/me/forwarding", "/me/vacation"} {
		checkPage(t, p, owner.get(p).must(t, 200))
	}
}

func checkPage(t *testing.T, name string, p page) {
	t.Helper()
	b := p.body
	if n := strings.Count(b, "<h1"); n != 1 {
		t.Errorf("%s: %d h1 elements, want 1", name, n)
	}
	for _, want := range []string{`<html lang="en">`, `<main id="main"`, `<header`, `class="skip" href="#main"`, `name="viewport"`} {
		if !strings.Contains(b, want) {
			t.Errorf("%s: lacks %s", name, want)
		}
	}
	if strings.Contains(b, "<nav") && !strings.Contains(b, `<nav aria-label="Main">`) {
		t.Errorf("%s: an unlabelled nav", name)
	}
	for _, c := range controlRE.FindAllString(b, -1) {
		attrs := map[string]string{}
		for _, a := range attrRE.FindAllStringSubmatch(c, -1) {
			attrs[a[1]] = a[2]
		}
		switch attrs["type"] {
		case "hidden", "submit", "button":
			continue
		}
		if attrs["aria-label"] != "" {
			continue
		}
		if attrs["id"] == "" || !strings.Contains(b, `<label for="`+attrs["id"]+`"`) {
			t.Errorf("%s: control without a label: %s", name, c)
		}
	}
}
