-- Dashboard panel "Statements per minute" (Brand overview, time series): learning activity by event time, in
-- buckets of the panel's interval (at least one minute), as an average rate per minute.
-- params: {"tenant": "t", "from_s": 1788220800, "to_s": 1798761600, "interval_s": 3600}
SELECT toDateTime(intDiv(intDiv(timestamp_us, 1000000), greatest(60, %(interval_s)s)) * greatest(60, %(interval_s)s))
           AS time,
       uniqExact(statement_id) / (greatest(60, %(interval_s)s) / 60) AS statements_per_min
FROM statements_by_time
WHERE tenant = %(tenant)s AND timestamp_us >= toInt64(toDateTime(%(from_s)s)) * 1000000
      AND timestamp_us < (toInt64(toDateTime(%(to_s)s)) + 1) * 1000000
  AND voiding_target = ''
  AND statement_id NOT IN (SELECT target_id FROM statement_voids WHERE tenant = %(tenant)s)
GROUP BY time
ORDER BY time
