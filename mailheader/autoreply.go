package mailheader

import "strings"

// AutoReplyRefusal says why a message from the envelope sender from must
// not get an automatic reply (RFC 3834 2 and 3.1: never to the null
// sender, system or list senders, automatic or bulk mail, lists, spam), or
// "" when it may. The MTA's vacation replies and Sieve's vacation action
// (RFC 5230 4.6) both ask it.
func AutoReplyRefusal(from string, h *Header) string {
	if from == "" {
		return "null sender"
	}
	local := strings.ToLower(from)
	if i := strings.LastIndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	switch {
	case local == "mailer-daemon" || local == "postmaster" || local == "listserv" || local == "majordomo":
		return "system sender"
	case strings.HasPrefix(local, "owner-") || strings.HasSuffix(local, "-request") || strings.HasSuffix(local, "-bounces"):
		return "list sender"
	}
	if h.Has("Auto-Submitted") && !strings.EqualFold(strings.TrimSpace(strings.SplitN(h.Get("Auto-Submitted"), ";", 2)[0]), "no") {
		return "auto-submitted"
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v != "" {
		switch v {
		case "bulk", "list", "junk":
			return "precedence " + v
		}
	}
	for _, f := range []string{"list-id", "list-unsubscribe", "list-post", "list-help", "x-auto-response-suppress"} {
		if h.Has(f) {
			return f
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Spam-Flag")), "yes") {
		return "spam"
	}
	return ""
}
