-- The built-in report's time range (lrs report): the tenant's first and last counting statement, in seconds.
-- params: {"tenant": "t"}
SELECT toInt64(intDiv(min(timestamp_us), 1000000)) AS first_s, toInt64(intDiv(max(timestamp_us), 1000000)) AS last_s,
       count() AS statements
FROM statements
WHERE tenant = %(tenant)s AND voided = 0 AND voiding_target = '' AND course_id != ''
