-- Dashboard panel "Engagement by weekday" (Course, bar chart): statements and sessions started per weekday
-- (Monday first, UTC) over the time range, from engagement_hourly; all 7 days are present.
-- params: {"tenant": "t", "course": "c", "from_s": 1788220800, "to_s": 1798761600}
SELECT arrayElement(['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], d) AS weekday, sum(statements) AS statements,
       sum(sessions) AS sessions
FROM (
    SELECT toDayOfWeek(hour) AS d, statements, sessions
    FROM engagement_hourly
    WHERE tenant = %(tenant)s AND course_id = %(course)s
      AND hour >= toDateTime(%(from_s)s) AND hour <= toDateTime(%(to_s)s)
    UNION ALL
    SELECT toUInt8(arrayJoin(range(7)) + 1) AS d, toUInt64(0) AS statements, toUInt64(0) AS sessions
)
GROUP BY d
ORDER BY d
