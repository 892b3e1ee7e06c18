// Package sieve is the mail filtering language of RFC 5228, of this
// project (no Go Sieve library is served): a lexer and parser whose errors
// carry line numbers, a compiler that checks every command and test
// against the required extensions once and turns the script into a tree of
// executable nodes (constant :matches and :regex patterns compiled ahead),
// and an interpreter that reads the message and envelope through Message
// and Envelope and returns the actions (Result). It does no I/O: the
// delivery files, redirects, rejects and answers.
//
// Extensions: fileinto, reject and ereject (RFC 5429), envelope,
// encoded-character, imap4flags (RFC 5232), vacation (RFC 5230) with
// vacation-seconds (RFC 6131), copy (RFC 3894), body (RFC 5173), variables
// (RFC 5229), relational (RFC 5231), comparator-i;ascii-numeric,
// subaddress (RFC 5233, separator "+"), date and index (RFC 5260), mailbox
// (RFC 5490), spamtest, spamtestplus and virustest (RFC 5235, scores through
// Scores), regex (draft-ietf-sieve-regex, RE2 syntax: linear time), include
// (RFC 6609).
//
// Limits: Options bound the script's size and nesting at compile time;
// Limits bound a run's actions, redirects, include depth, variable size and
// run time.
package sieve
