package mda

// JunkFolder is the folder spam is filed to: the special-use \Junk
// folder provisioning makes (RFC 6154).
const JunkFolder = "Junk"

// junkTarget files a recipient's copy marked as spam (Recipient.Junk) in
// the Junk folder, unless the recipient named a folder of its own
// (alice+news@): the user's choice stands, as the user's filters will.
// A mailbox without a Junk directory gets the copy in INBOX (folder's
// fallback).
func junkTarget(r *Recipient) {
	if r.Junk && r.Target.Folder == "INBOX" {
		r.Target.Folder, r.Target.FolderID = JunkFolder, 0
	}
}
