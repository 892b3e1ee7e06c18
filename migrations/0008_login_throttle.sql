-- The login throttle's state, shared by every node, so that a guesser
-- spread over several nodes is counted once, and `mailhost auth blocks`
-- and `unblock` (a process other than serve) see and lift what serve
-- decided.
--
-- auth_throttle: one row per client address ('ip:' IPv4 address or IPv6
-- /64) or account ('acct:' normalised user name): failures in the current
-- series (forgotten when the last one is older than auth.block_seconds)
-- and the end of a block, if one began.
CREATE TABLE auth_throttle (
    key           text PRIMARY KEY CHECK (key ~ '^(ip|acct):.'),
    failures      integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_failure  timestamptz NOT NULL,
    blocked_until timestamptz
);
CREATE INDEX auth_throttle_blocked ON auth_throttle (blocked_until) WHERE blocked_until IS NOT NULL;
CREATE INDEX auth_throttle_last_failure ON auth_throttle (last_failure);

-- auth_known_clients: the client addresses (as auth_throttle names them,
-- without the prefix) each account logged in from successfully, and when
-- last. A login from one of them is not held back by the account's
-- failures, so a stranger's guessing cannot lock the owner out.
CREATE TABLE auth_known_clients (
    account    text NOT NULL,
    client     text NOT NULL,
    last_login timestamptz NOT NULL,
    PRIMARY KEY (account, client)
);
