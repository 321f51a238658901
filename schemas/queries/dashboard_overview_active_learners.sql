-- Dashboard panel "Active learners per day" (Brand overview, time series): distinct learners with a counting
-- statement (not voided, not a void, in a course) per UTC day, across all the tenant's courses.
-- params: {"tenant": "t", "from_s": 1788220800, "to_s": 1798761600}
SELECT toStartOfDay(at) AS time, uniqExact(actor_ifi) AS active_learners
FROM (
    SELECT actor_ifi, toDateTime(intDiv(timestamp_us, 1000000)) AS at
    FROM statements FINAL
    WHERE tenant = %(tenant)s AND voided = 0 AND voiding_target = '' AND course_id != ''
)
WHERE at >= toDateTime(%(from_s)s) AND at <= toDateTime(%(to_s)s)
GROUP BY time
ORDER BY time
