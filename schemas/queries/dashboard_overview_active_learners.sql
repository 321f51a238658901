-- Dashboard panel "Active learners per day" (Brand overview, time series): distinct learners with a counting
-- statement (not voided, not a void, in a course) per UTC day, across all the tenant's courses.
-- params: {"tenant": "t", "from_s": 1788220800, "to_s": 1798761600}
SELECT toStartOfDay(toDateTime(intDiv(timestamp_us, 1000000))) AS time, uniqExact(actor_ifi) AS active_learners
FROM statements_by_time
WHERE tenant = %(tenant)s AND timestamp_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND timestamp_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000
  AND voiding_target = '' AND course_id != ''
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
GROUP BY time
ORDER BY time
