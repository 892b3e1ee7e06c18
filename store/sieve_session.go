package store

import "context"

// The methods of a ManageSieve session (RFC 5804) on a mailbox's scripts,
// each in its own transaction; the provisioning service uses the Tx
// methods of the same names inside its audited transactions.

// SieveScripts lists a mailbox's scripts by name.
func (s *Store) SieveScripts(ctx context.Context, mailboxID int64) ([]SieveScript, error) {
	return s.Read().SieveScripts(ctx, mailboxID)
}

// SieveScript returns one of a mailbox's scripts.
func (s *Store) SieveScript(ctx context.Context, mailboxID int64, name string) (SieveScript, error) {
	return s.Read().SieveScript(ctx, mailboxID, name)
}

// PutSieveScript is Tx.PutSieveScript in a transaction of its own.
func (s *Store) PutSieveScript(ctx context.Context, mailboxID int64, name, content string, maxScripts int) (SieveScript, error) {
	var out SieveScript
	err := s.Tx(ctx, func(tx *Tx) error {
		var err error
		out, err = tx.PutSieveScript(ctx, mailboxID, name, content, maxScripts)
		return err
	})
	return out, err
}

// DeleteSieveScript removes a mailbox's script that is not active.
func (s *Store) DeleteSieveScript(ctx context.Context, mailboxID int64, name string) error {
	return s.Read().DeleteSieveScript(ctx, mailboxID, name)
}

// RenameSieveScript renames a mailbox's script.
func (s *Store) RenameSieveScript(ctx context.Context, mailboxID int64, from, to string) error {
	return s.Read().RenameSieveScript(ctx, mailboxID, from, to)
}

// ActivateSieveScript makes name the one active script ("" none), in one
// transaction.
func (s *Store) ActivateSieveScript(ctx context.Context, mailboxID int64, name string) error {
	return s.Tx(ctx, func(tx *Tx) error { return tx.ActivateSieveScript(ctx, mailboxID, name) })
}
