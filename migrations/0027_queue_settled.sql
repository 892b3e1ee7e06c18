-- Before store.FinishQueue locked a message's row, two workers settling
-- its last recipients at the same moment could each see the other's
-- recipient still waiting, and neither removed the message: it stayed
-- with nothing left to try. Such messages go (their results are in the
-- mail log); the finish removes every later one itself.
DELETE FROM queue q WHERE NOT EXISTS (
	SELECT 1 FROM queue_recipients r WHERE r.queue_id = q.id AND r.state IN ('queued', 'deferred'));
