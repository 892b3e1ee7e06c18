package web_test

import "testing"

// A super-admin sees the login throttle's blocks on the panel and lifts
// them; a domain admin gets 404.
func TestLoginBlocksPage(t *testing.T) {
	e := newEnv(t)
	e.admin("root", true)
	e.admin("dom", false)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	root := e.client()
	root.login("root", pw, "/")
	root.get("/auth/blocks").must(t, 200).has(t, "Nothing is blocked.")

	guesser := e.client()
	for range 5 {
		guesser.post("/login", "username", "alice@example.com", "password", "wrong").must(t, 401)
	}
	guesser.post("/login", "username", "alice@example.com", "password", pw).must(t, 429)
	root.get("/auth/blocks").must(t, 200).has(t, "127.0.0.1", `<td data-label="What">client address`, "alice@example.com", `<td data-label="What">account`)
	root.get("/").must(t, 200).has(t, `href="/auth/blocks"`)

	root.post("/auth/blocks/unblock", "target", "127.0.0.1").redirects(t, "/auth/blocks?done=unblocked")
	root.get("/auth/blocks?done=unblocked").must(t, 200).has(t, "Block lifted", "alice@example.com").lacks(t, `<td data-label="What">client address`)
	root.post("/auth/blocks/unblock", "target", "192.0.2.1").must(t, 404).fieldError(t, "target", "is not blocked")
	root.post("/auth/blocks/unblock", "target", "10.0.0.0/8").must(t, 422).fieldError(t, "target", "must be an IP address")

	d := e.client()
	d.login("dom", pw, "/")
	d.get("/auth/blocks").must(t, 404)
	d.post("/auth/blocks/unblock", "target", "alice@example.com").must(t, 404)
	d.get("/").must(t, 200).lacks(t, `href="/auth/blocks"`)
}

// A wrong current password on the owner's password form counts in the
// login throttle like a failed login of the mailbox.
func TestOwnerPasswordFormIsThrottled(t *testing.T) {
	e := newEnv(t)
	e.domain("example.com")
	e.mailbox("alice@example.com")
	c := e.client()
	c.login("alice@example.com", pw, "/me")
	for range 5 {
		c.post("/me/password", "current_password", "wrong", "password", "new password 2").must(t, 422)
	}
	c.post("/me/password", "current_password", pw, "password", "new password 2").must(t, 429).has(t, "Try again later")
	e.client().post("/login", "username", "alice@example.com", "password", pw).must(t, 429)
}
