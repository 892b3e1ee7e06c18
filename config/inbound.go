package config

// Inbound configures the sender checks of the MX listener (port 25): SPF,
// DKIM, DMARC and iprev, never on submission or for mynetworks. What
// their results do is each recipient domain's inbound policy, in the
// database; after an access rule's OK they are only recorded.
type Inbound struct {
	Checks      bool   `toml:"checks" help:"check senders on the MX listener: SPF, DKIM, DMARC, reverse DNS, with an Authentication-Results header"`
	AuthServID  string `toml:"authserv_id" help:"this server's name in Authentication-Results (empty: hostname); incoming fields with it are removed"`
	RejectNoPTR bool   `toml:"reject_no_ptr" help:"refuse clients without forward-confirmed reverse DNS at MAIL (550 5.7.25; 450 4.7.25 while the lookup fails)"`
	TempError   string `toml:"temperror" help:"a temporary DNS failure in a check a policy acts on: accept (mark temperror and go on) or defer (451 4.4.3)"`
	// MaxDKIMSignatures bounds the signatures verified per message.
	MaxDKIMSignatures int `toml:"max_dkim_signatures" help:"DKIM signatures verified per message; later ones are reported as not checked"`
}

func defaultInbound() Inbound {
	return Inbound{Checks: true, TempError: "accept", MaxDKIMSignatures: 5}
}

func (c *Config) validateInbound(bad reporter) {
	in := c.Inbound
	oneOf(bad, "inbound.temperror", in.TempError, "accept", "defer")
	if in.MaxDKIMSignatures < 1 || in.MaxDKIMSignatures > 50 {
		bad("inbound.max_dkim_signatures", "must be from 1 to 50, got %d", in.MaxDKIMSignatures)
	}
	if in.AuthServID != "" && (len(in.AuthServID) > 253 || !hostnameRE.MatchString(in.AuthServID)) {
		bad("inbound.authserv_id", "must be a host name such as mx.example.com, got %q", in.AuthServID)
	}
}
