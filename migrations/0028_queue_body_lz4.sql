-- The queue's message bodies are compressed with LZ4 instead of pglz:
-- a body is compressed once, when it is queued, and read back at most a
-- few times before the row goes, and pglz_compress was the costliest part
-- of the enqueue in bench/submission.sh (a 4 KiB body: ~0.1 ms with pglz,
-- ~0.05 ms with LZ4, measured on the 2-core test machine). Rows queued
-- before keep pglz, which PostgreSQL still reads. A server built without
-- LZ4 (or older than 14) keeps pglz.
DO $$
BEGIN
	ALTER TABLE queue ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported OR syntax_error THEN
	RAISE NOTICE 'queue.body stays compressed with pglz: %', SQLERRM;
END
$$;
