-- Dashboard panel "Enrolments now" (Brand overview, stat): learner-course enrolments of the tenant by state,
-- summed over its courses from course_summary (a learner in two courses counts twice).
-- params: {"tenant": "t"}
SELECT sum(learners_started) AS started, sum(active_learners) AS active, sum(completed) AS completed,
       sum(certified) AS certified, sum(at_risk) AS at_risk, sum(dropped) AS dropped
FROM course_summary
WHERE tenant = %(tenant)s
