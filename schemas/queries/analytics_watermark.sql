-- The tenant's event-time clock: the latest time of its non-voided course statements (voiding statements
-- excluded: they are administrative), each statement's timestamp capped at its stored time (a client clock set
-- in the future cannot push the clock), minus the allowed lateness; and how many such statements exist.
-- params: {"tenant": "t", "lateness_us": 3600000000}
SELECT max(least(timestamp_us, stored_us)) - %(lateness_us)s AS watermark_us, count() AS statements
FROM statements FINAL
WHERE tenant = %(tenant)s AND voided = 0 AND voiding_target = '' AND course_id != ''
