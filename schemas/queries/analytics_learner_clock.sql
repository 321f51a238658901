-- The tenant's event-time clock from its courses' inputs (analytics_course_clock, one row per course, kept from
-- the learners' rows): the latest statement time, each capped at its stored time, minus the allowed lateness;
-- equal to analytics_watermark over the raw statements once the learners' rows are current.
-- params: {"tenant": "t", "lateness_us": 3600000000}
SELECT maxIf(clock_us, learners > 0) - %(lateness_us)s AS watermark_us, sum(learners) AS learner_count
FROM analytics_course_clock FINAL
WHERE tenant = %(tenant)s
