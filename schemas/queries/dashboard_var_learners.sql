-- Dashboard variable `learner` (Learner dashboard): the tenant's learners (actor IFIs), most recently active
-- first, at most 1000.
-- params: {"tenant": "t"}
SELECT actor_ifi
FROM learner_course_rows FINAL
WHERE tenant = %(tenant)s AND present = 1
GROUP BY actor_ifi
ORDER BY max(last_seen) DESC, actor_ifi
LIMIT 1000
