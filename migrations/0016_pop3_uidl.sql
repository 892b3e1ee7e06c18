-- A message's POP3 unique-id as another server showed it, kept by an
-- import (mailhost import postfixadmin) so POP3 clients that leave mail on
-- the server do not download it again. NULL (every message mailhost itself
-- stores) means the native "<uidvalidity>.<uid>". RFC 1939 7: 1 to 70
-- characters in 0x21-0x7E.
ALTER TABLE messages ADD COLUMN pop3_uidl text
    CHECK (pop3_uidl IS NULL OR (length(pop3_uidl) BETWEEN 1 AND 70 AND pop3_uidl ~ '^[!-~]+$'));
