-- Dashboard panel "Learners of the course" (Course, table): each learner's status, progress and effort, most
-- recently active first (at most 500 rows), from learner_course's rows (one key range of learner_course_rows).
-- Exactly `... FROM learner_course_rows FINAL WHERE ... AND present = 1 ORDER BY last_seen DESC, learner LIMIT 500`,
-- but FINAL merges only learners that can be among the 500 (merging all the course's versions was the cost):
-- T = the 500th last_seen among the newest present rows of one learner in 8 (a key-only PREWHERE keeps all of a
-- learner's versions) is at most the 500th overall, so the 500 are among learners with some row at or after T.
-- Fewer than 500 in the sample (a small course): T = 0, every learner.
-- params: {"tenant": "t", "course": "c"}
SELECT actor_ifi AS learner, status, first_seen, last_seen, furthest_position, statements, sessions,
       time_on_task_s, completed, passed, certified
FROM learner_course_rows FINAL
PREWHERE tenant = %(tenant)s AND course_id = %(course)s AND actor_ifi IN (
    SELECT actor_ifi
    FROM learner_course_rows
    WHERE tenant = %(tenant)s AND course_id = %(course)s
      AND last_seen >= (
          SELECT if(count() < 500, toDateTime(0), min(last_seen))
          FROM (
              SELECT last_seen
              FROM learner_course_rows FINAL
              PREWHERE tenant = %(tenant)s AND course_id = %(course)s AND modulo(cityHash64(actor_ifi), 8) = 0
              WHERE present = 1
              ORDER BY last_seen DESC
              LIMIT 500
          ) AS sample
      )
)
WHERE present = 1
ORDER BY last_seen DESC, learner
LIMIT 500
