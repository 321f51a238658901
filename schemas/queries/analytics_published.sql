-- Each analytics slice's newest published version: the analytics cleanup deletes only versions below it.
-- params: {}
SELECT tenant, course_id, max(version) AS published
FROM analytics_slices
GROUP BY tenant, course_id
