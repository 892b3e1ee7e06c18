-- Access rules and relocated entries are written by the admin service
-- (API, panel, CLI), so they get what its other objects have: an update
-- time, and the whole of the Postfix access(5) actions mailhost acts on.
--
-- access_rules.action is a Postfix access(5) right-hand side:
--   OK, DUNNO
--   REJECT [text], DEFER [text]      554 5.7.1 / 450 4.7.1 with the text
--   DISCARD [text], HOLD [text]      the text is logged
--   4NN [text], 5NN [text]           that reply code
-- It becomes part of an SMTP reply: never a line break in it.
ALTER TABLE access_rules DROP CONSTRAINT access_rules_action_check;
ALTER TABLE access_rules ADD CONSTRAINT access_rules_action_check CHECK (
    action !~ '[\r\n]' AND (
        action IN ('OK', 'DUNNO')
        OR action ~ '^(REJECT|DEFER|DISCARD|HOLD)( .*)?$'
        OR action ~ '^[45][0-9][0-9]( .*)?$'));
ALTER TABLE access_rules ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

-- The new location is part of the 551 reply too.
ALTER TABLE relocated ADD CONSTRAINT relocated_new_address_line CHECK (new_address !~ '[\r\n]');
ALTER TABLE relocated ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
