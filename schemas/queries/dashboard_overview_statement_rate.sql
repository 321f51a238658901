-- Dashboard panel "Statements per minute" (Brand overview, time series): learning activity by event time, in
-- buckets of the panel's interval (at least one minute), as an average rate per minute.
-- params: {"tenant": "t", "from_s": 1788220800, "to_s": 1798761600, "interval_s": 3600}
SELECT toDateTime(intDiv(toUInt32(at), greatest(60, %(interval_s)s)) * greatest(60, %(interval_s)s)) AS time,
       count() / (greatest(60, %(interval_s)s) / 60) AS statements_per_min
FROM (
    SELECT toDateTime(intDiv(timestamp_us, 1000000)) AS at
    FROM statements FINAL
    WHERE tenant = %(tenant)s AND voided = 0 AND voiding_target = ''
)
WHERE at >= toDateTime(%(from_s)s) AND at <= toDateTime(%(to_s)s)
GROUP BY time
ORDER BY time
