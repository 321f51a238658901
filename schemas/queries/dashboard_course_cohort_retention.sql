-- Dashboard panel "Weekly cohort retention" (Course, table as heatmap): one row per weekly cohort (Monday of
-- the learners' first statement) with its size and the share of it active in week 0..11 after it started,
-- from cohort_retention; weeks not reached yet are empty (NULL).
-- params: {"tenant": "t", "course": "c", "from_s": 1788220800, "to_s": 1798761600}
SELECT cohort_week, max(cohort_size) AS cohort_size,
       if(countIf(week_number = 0) = 0, NULL, maxIf(retention, week_number = 0)) AS w0,
       if(countIf(week_number = 1) = 0, NULL, maxIf(retention, week_number = 1)) AS w1,
       if(countIf(week_number = 2) = 0, NULL, maxIf(retention, week_number = 2)) AS w2,
       if(countIf(week_number = 3) = 0, NULL, maxIf(retention, week_number = 3)) AS w3,
       if(countIf(week_number = 4) = 0, NULL, maxIf(retention, week_number = 4)) AS w4,
       if(countIf(week_number = 5) = 0, NULL, maxIf(retention, week_number = 5)) AS w5,
       if(countIf(week_number = 6) = 0, NULL, maxIf(retention, week_number = 6)) AS w6,
       if(countIf(week_number = 7) = 0, NULL, maxIf(retention, week_number = 7)) AS w7,
       if(countIf(week_number = 8) = 0, NULL, maxIf(retention, week_number = 8)) AS w8,
       if(countIf(week_number = 9) = 0, NULL, maxIf(retention, week_number = 9)) AS w9,
       if(countIf(week_number = 10) = 0, NULL, maxIf(retention, week_number = 10)) AS w10,
       if(countIf(week_number = 11) = 0, NULL, maxIf(retention, week_number = 11)) AS w11
FROM cohort_retention
WHERE tenant = %(tenant)s AND course_id = %(course)s
  AND cohort_week >= toMonday(toDate(toDateTime(%(from_s)s))) AND cohort_week <= toDate(toDateTime(%(to_s)s))
GROUP BY cohort_week
ORDER BY cohort_week
