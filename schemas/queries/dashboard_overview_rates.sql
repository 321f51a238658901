-- Dashboard panel "Completion, pass and certificate conversion" (Brand overview, stat, percent): over all the
-- tenant's enrolments; certificate conversion = certified / completed.
-- params: {"tenant": "t"}
SELECT if(sum(learners_started) = 0, 0, sum(completed) / sum(learners_started)) AS completion_rate,
       if(sum(learners_started) = 0, 0, sum(passed) / sum(learners_started)) AS pass_rate,
       if(sum(completed) = 0, 0, sum(certified) / sum(completed)) AS certificate_conversion
FROM course_summary
WHERE tenant = %(tenant)s
