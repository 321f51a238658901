-- Dashboard panel "Engagement by hour of day (UTC)" (Course, bar chart): statements and sessions started per
-- hour of the day over the time range, from engagement_hourly; all 24 hours are present.
-- params: {"tenant": "t", "course": "c", "from_s": 1788220800, "to_s": 1798761600}
SELECT concat(if(h < 10, '0', ''), toString(h), ':00') AS hour_of_day, sum(statements) AS statements,
       sum(sessions) AS sessions
FROM (
    SELECT toHour(hour) AS h, statements, sessions
    FROM engagement_hourly
    WHERE tenant = %(tenant)s AND course_id = %(course)s
      AND hour >= toDateTime(%(from_s)s) AND hour <= toDateTime(%(to_s)s)
    UNION ALL
    SELECT toUInt8(arrayJoin(range(24))) AS h, toUInt64(0) AS statements, toUInt64(0) AS sessions
)
GROUP BY h
ORDER BY h
