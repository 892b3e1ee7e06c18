package store

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// QueueIDLen is the length of a queue id.
const QueueIDLen = 20

// NewQueueID makes the id of a message the server accepts or writes
// (Postfix's queue id): thirteen hex digits of the Unix time in
// microseconds, then seven random ones, upper case. It sorts by time and,
// with 28 random bits behind the microsecond, differs from every other
// node's and process's ids without a shared counter. It is made when the
// message is received, before it is queued: the 250 reply, the Received
// field and the mail log lines carry it, and QueuedMessage.QueueID stores
// it on the message's queue rows.
func NewQueueID() string {
	return fmt.Sprintf("%013X%07X", time.Now().UnixMicro()&(1<<52-1), rand.Uint32()&(1<<28-1))
}

// QueueIDOfRow is the id migration 0019 gave a row queued before it: the
// row number in twenty hex digits, whose time part is zero.
func QueueIDOfRow(row int64) string {
	return fmt.Sprintf("%020X", row)
}

// queueRef reads what a queue tool was given for a message: its queue id
// (any case) and, when ref is a decimal number shorter than an id, the
// row number it may also be (the queue tools' ids before migration 0019).
func queueRef(ref string) (id string, row int64) {
	ref = strings.TrimSpace(ref)
	if len(ref) < QueueIDLen {
		if n, err := strconv.ParseInt(ref, 10, 64); err == nil && n > 0 {
			row = n
		}
	}
	return strings.ToUpper(ref), row
}
