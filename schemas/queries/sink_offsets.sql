-- Last offset per partition whose statements are in the statements table (latest write wins).
-- params: {"topic": "xapi.statements"}
SELECT partition, argMax(offset, updated_us) AS last_offset, max(updated_us) AS last_update
FROM sink_offsets
WHERE topic = %(topic)s
GROUP BY partition
ORDER BY partition
