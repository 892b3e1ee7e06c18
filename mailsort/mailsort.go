// Package mailsort orders and threads a mailbox's messages for the IMAP
// SORT and THREAD commands (RFC 5256), with the DISPLAYFROM and DISPLAYTO
// keys of RFC 5957. It is pure: the caller fills a Message per message
// from its header (Summarize does it from a parsed header) and gets back
// an order or a tree of indexes into its slice, which it prints with the
// numbers it wants (sequence numbers for SORT and THREAD, UIDs for UID
// SORT and UID THREAD).
//
// Strings are compared with the i;unicode-casemap comparator (RFC 5051)
// that RFC 5256's I18NLEVEL=1 requirement (RFC 5255 section 4) makes the
// default; i;ascii-casemap can be chosen for a server that negotiates it.
package mailsort

import "time"

// Message is what SORT and THREAD need to know of one message. The
// header values are raw: as the first field of that name holds them,
// unfolded or not, with RFC 2047 encoded words (they are decoded here).
type Message struct {
	// Seq is the message sequence number. Messages that compare equal
	// sort by it (RFC 5256 section 3); the slice given to Sort and Thread
	// is expected in mailbox order (ascending Seq), which also decides
	// which of two messages with the same Message-ID keeps it.
	Seq uint32
	// UID is the message's UID; mailsort does not use it, it is there for
	// the caller's printing.
	UID uint32
	// Internal is the INTERNALDATE: the ARRIVAL key, and the sent date of
	// a message without a usable Date field.
	Internal time.Time
	// Sent is the sent date (RFC 5256 section 2.2) as SentDate computes
	// it from the Date field; zero means Internal.
	Sent time.Time
	// Size is RFC822.SIZE.
	Size int64
	// Subject is the Subject field's value.
	Subject string
	// From, To and Cc are the first address of those fields.
	From, To, Cc Address
	// MessageID, References and InReplyTo are those fields' values.
	MessageID, References, InReplyTo string
}

// Address is one address as IMAP's ENVELOPE gives it (RFC 3501 section
// 7.4.2): addr-name, addr-mailbox, addr-host. The start of a group has
// the group's name as Mailbox and no Host.
type Address struct {
	// Name is the display name, decoded or with its RFC 2047 encoded
	// words (which are decoded here).
	Name string
	// Mailbox is the local part, unquoted (addr-mailbox).
	Mailbox string
	// Host is the domain (addr-host).
	Host string
}

// sentDate is the message's sent date: Sent, or Internal when unknown.
func (m *Message) sentDate() time.Time {
	if m.Sent.IsZero() {
		return m.Internal
	}
	return m.Sent
}
