-- The tenant's event-time clock from its learners' rows (what the refresh computes statuses at): the latest
-- statement time, each capped at its stored time, minus the allowed lateness; equal to analytics_watermark over
-- the raw statements once the learners' rows are current.
-- params: {"tenant": "t", "lateness_us": 3600000000}
SELECT max(clock_us) - %(lateness_us)s AS watermark_us, count() AS learners
FROM learner_state FINAL
WHERE tenant = %(tenant)s AND present = 1
