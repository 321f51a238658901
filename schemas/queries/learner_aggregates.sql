-- What the learner_state rows of some learners of some courses of one tenant, named as (course, learner) pairs, are
-- computed from (streams/learners.py, Aggregate): per learner its counting statements' times sorted, the latest
-- time capped at the stored time (the tenant clock's input), the completed objects, the passed and certified flags,
-- and every module visit as (module, time), sorted. Aggregated here, so that a learner's history crosses the wire
-- as one row however long it is. Voided statements are left out.
-- params: {"tenant": "t", "pairs": [["c", "mbox:mailto:a@example.com"]], "cert_verbs": [""], "cert_types": "", "use_types": 0}
SELECT course_id, actor_ifi, arraySort(groupArray(timestamp_us)) AS times,
       max(least(timestamp_us, stored_us)) AS clock_us,
       groupUniqArrayIf(object_id, verb_id = 'http://adlnet.gov/expapi/verbs/completed'
                                   OR ifNull(result_completion, 0) = 1) AS done,
       max(toUInt8(object_id = course_id AND (verb_id = 'http://adlnet.gov/expapi/verbs/passed'
                                              OR ifNull(result_success, 0) = 1))) AS passed,
       max(toUInt8(verb_id IN %(cert_verbs)s
                   OR (%(use_types)s = 1 AND hasAny(types, splitByChar(' ', %(cert_types)s))))) AS certified,
       -- Each module's first visit only (what the learner row keeps): the visits sorted by module and time, less those
       -- whose module is the one before them. A learner's history crosses the wire as its times, not also as
       -- a (module, time) pair per statement (500 learners of 2,100 statements: 48 MB of Python objects, not 191).
       arrayFilter((v, previous) -> v.1 != previous.1,
                   arraySort(groupArrayIf((module_id, timestamp_us), module_id != '')) AS all_visits,
                   arrayPopBack(arrayPushFront(all_visits, ('', toInt64(0))))) AS visits
FROM learner_statements FINAL
WHERE tenant = %(tenant)s AND (course_id, actor_ifi) IN %(pairs)s AND voided = 0
GROUP BY course_id, actor_ifi
