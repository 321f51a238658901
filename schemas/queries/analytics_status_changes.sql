-- Learners of a slice who are at_risk or dropped in the new version but were not in that state in the
-- previous one (the at-risk events to publish).
-- params: {"tenant": "t", "course_id": "c", "version": 2, "previous": 1}
SELECT n.actor_ifi, n.status, p.previous_status, n.last_seen_us, n.inactive_s, n.furthest_module, n.watermark_us
FROM (
    SELECT actor_ifi, status, last_seen_us, inactive_s, furthest_module, watermark_us
    FROM learner_course_data
    WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND version = %(version)s
      AND status IN ('at_risk', 'dropped')
) AS n
ANY LEFT JOIN (
    SELECT actor_ifi AS p_actor, status AS previous_status
    FROM learner_course_data
    WHERE tenant = %(tenant)s AND course_id = %(course_id)s AND version = %(previous)s
) AS p ON n.actor_ifi = p.p_actor
WHERE p.previous_status != n.status
