-- What the learner_state rows of some learners of some courses of one tenant, named as (course, learner) pairs, are
-- computed from (streams/learners.py, Aggregate): per learner its first and last time, statements, sessions and
-- time on task, per UTC day and hour its statements, sessions started and in-session gaps, the latest time capped at
-- the stored time (the tenant clock's input), the completed objects, the passed and certified flags, and each
-- module's first visit as (module, time). Voided statements are left out.
-- params: {"tenant": "t", "pairs": [["c", "mbox:mailto:a@example.com"]], "cap_us": 1800000000, "cert_verbs": [""], "cert_types": "", "use_types": 0}
-- Per learner, the figures of its learner_state row, aggregated here so that a learner's history crosses the wire
-- as one row whose size grows with the hours it was active in, not with its statements (streams/learners.py,
-- Aggregate, computes the same from statement tuples). The learner's counting statements' times, sorted (`ts`):
-- a gap above the cap (or none: the first statement) starts a session, a shorter one is time on task; both are
-- counted in the UTC day and hour of the statement ending the gap. The times are sorted, so each day's and hour's
-- statements are a run: its figures are the differences of running sums taken at the run's last statement.
-- Day starts are floored (seconds before 1970 too), hour starts truncated, as streams/learners.py does.
-- Lambdas get every array as an argument: an array a lambda captures is copied once per element.
SELECT course_id, actor_ifi, ts[1] AS first_us, ts[-1] AS last_us, length(ts) AS statements,
       arraySum(arrayMap((g, i) -> toInt64(i = 1 OR g > %(cap_us)s), arrayDifference(ts) AS gaps,
                         arrayEnumerate(ts) AS positions) AS starts) AS sessions,
       arraySum(arrayMap((g, s) -> if(s = 1, toInt64(0), g), gaps, starts) AS gap_in) AS tot_us,
       clock_us, done, passed, certified, visits,
       arrayFilter((k, e) -> e, arrayMap(t -> intDiv(intDiv(t, 1000000) - if(t < 0, 86399, 0), 86400) * 86400,
                                         ts) AS day_of,
                   arrayMap((k, next) -> k != next, day_of, arrayPushBack(arrayPopFront(day_of), day_of[-1] + 1))
                   AS day_end) AS day_keys,
       arrayMap((d, i, c) -> if(i = 1, c, d), arrayDifference(arrayFilter((c, e) -> e, positions, day_end) AS day_n),
                arrayEnumerate(day_n), day_n) AS day_statements,
       arrayMap((d, i, c) -> if(i = 1, c, d),
                arrayDifference(arrayFilter((c, e) -> e, arrayCumSum(starts) AS running_starts, day_end) AS day_s),
                arrayEnumerate(day_s), day_s) AS day_starts,
       arrayMap((d, i, c) -> if(i = 1, c, d),
                arrayDifference(arrayFilter((c, e) -> e, arrayCumSum(gap_in) AS running_gaps, day_end) AS day_g),
                arrayEnumerate(day_g), day_g) AS day_gap_us,
       arrayFilter((k, e) -> e, arrayMap(t -> intDiv(t, 3600000000) * 3600, ts) AS hour_of,
                   arrayMap((k, next) -> k != next, hour_of, arrayPushBack(arrayPopFront(hour_of), hour_of[-1] + 1))
                   AS hour_end) AS hour_keys,
       arrayMap((d, i, c) -> if(i = 1, c, d), arrayDifference(arrayFilter((c, e) -> e, positions, hour_end) AS hour_n),
                arrayEnumerate(hour_n), hour_n) AS hour_statements,
       arrayMap((d, i, c) -> if(i = 1, c, d), arrayDifference(arrayFilter((c, e) -> e, running_starts, hour_end) AS hour_s),
                arrayEnumerate(hour_s), hour_s) AS hour_starts,
       arrayMap((d, i, c) -> if(i = 1, c, d), arrayDifference(arrayFilter((c, e) -> e, running_gaps, hour_end) AS hour_g),
                arrayEnumerate(hour_g), hour_g) AS hour_gap_us
FROM (
    SELECT course_id, actor_ifi, arraySort(groupArray(timestamp_us)) AS ts,
           max(least(timestamp_us, stored_us)) AS clock_us,
           groupUniqArrayIf(object_id, verb_id = 'http://adlnet.gov/expapi/verbs/completed'
                                       OR ifNull(result_completion, 0) = 1) AS done,
           max(toUInt8(object_id = course_id AND (verb_id = 'http://adlnet.gov/expapi/verbs/passed'
                                                  OR ifNull(result_success, 0) = 1))) AS passed,
           max(toUInt8(verb_id IN %(cert_verbs)s
                       OR (%(use_types)s = 1 AND hasAny(types, splitByChar(' ', %(cert_types)s))))) AS certified,
           -- Each module's first visit only (what the learner row keeps): the visits sorted by module and time, less
           -- those whose module is the one before them.
           arrayFilter((v, previous) -> v.1 != previous.1,
                       arraySort(groupArrayIf((module_id, timestamp_us), module_id != '')) AS all_visits,
                       arrayPopBack(arrayPushFront(all_visits, ('', toInt64(0))))) AS visits
    FROM learner_statements FINAL
    WHERE tenant = %(tenant)s AND (course_id, actor_ifi) IN %(pairs)s AND voided = 0
    GROUP BY course_id, actor_ifi
)
