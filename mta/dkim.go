package mta

import (
	"context"
	"log/slog"

	"mailhost/store"
)

// Signer adds the DKIM signatures of a hosted sender domain to a message
// (*dkimsign.Signer): a message from any other domain comes back as it
// was.
type Signer interface {
	Sign(ctx context.Context, msg []byte) ([]byte, error)
}

// signedOrigins are the queue origins whose mail this server vouches for:
// written by an authenticated user (submission), a local user
// (sendmail), a trusted network (relay: mynetworks, as opendkim's
// InternalHosts) or by the server itself (bounce, vacation). Mail that
// came in on port 25 ("smtp" to a relay domain, "forward" of a hosted
// address) is passed on as it came: signing it would vouch for a sender
// nobody checked, and a forwarded message from a hosted domain already
// carries the signature it left with.
var signedOrigins = map[string]bool{"submission": true, "sendmail": true, "relay": true, "bounce": true, "vacation": true}

// signQueued signs, in place, the messages of msgs that leave with a
// signature (signedOrigins) when their From: domain is hosted: the one
// place where outgoing mail is signed, once, before it is queued, so
// retries send the same bytes. A message that cannot be signed is queued
// unsigned, with an error logged.
func signQueued(ctx context.Context, sg Signer, log *slog.Logger, msgs []store.QueuedMessage) {
	if sg == nil {
		return
	}
	for i := range msgs {
		m := &msgs[i]
		if !signedOrigins[m.Origin] {
			continue
		}
		body, err := sg.Sign(ctx, m.Body)
		if err != nil {
			log.Error("dkim: message queued unsigned", "origin", m.Origin, "sender", m.Sender, "err", err)
			continue
		}
		m.Body = body
	}
}
