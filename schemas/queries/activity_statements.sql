-- Statements of a tenant that mention an activity (object, context or sub-statement), oldest first,
-- for assembling the Activity object of GET /xapi/activities.
-- params: {"tenant": "t", "activity": "http://example.com/a", "limit": 1000}
SELECT statement
FROM statements FINAL
WHERE tenant = %(tenant)s AND voided = 0 AND has(related_activities, %(activity)s)
ORDER BY stored_us ASC
LIMIT %(limit)s
