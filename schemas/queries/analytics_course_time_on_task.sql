-- Batch recomputation of `course_time_on_task`: per course, the learners by total time on task in 15-minute bins
-- (bin 16: 4 hours and more); bins without learners have no row.
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, course_id, toUInt8(least(intDiv(toUInt64(tot_us / 1000000), 900), 16)) AS bin,
       count() AS learners
FROM (
SELECT course_id, actor_ifi, first_seen_us, last_seen_us, statements, sessions, tot_us, furthest_module,
       furthest_position, completed, passed, certified,
       toInt64(%(clock_us)s) - last_seen_us AS inactive_us,
       multiIf(completed = 1, 'completed', inactive_us >= %(dropped_us)s, 'dropped',
               inactive_us >= %(at_risk_us)s, 'at_risk', 'started') AS status
FROM (
    SELECT course_id, actor_ifi, first_seen_us, last_seen_us, statements, sessions, tot_us, furthest_module,
           furthest_position, passed, certified,
           -- completed: on the course itself, or on the last module of the declared structure
           toUInt8(has(done_objects, course_id) OR (last_module != '' AND has(done_objects, last_module))) AS completed
    FROM (
        SELECT course_id, actor_ifi, first_seen_us, last_seen_us, statements, sessions, tot_us, done_objects,
               passed, certified, furthest_module, furthest_position
        FROM (
            SELECT course_id, actor_ifi, min(timestamp_us) AS first_seen_us, max(timestamp_us) AS last_seen_us,
                   count() AS statements,
                   -- sessions without window functions: sorted timestamps, gaps, a gap above the cap starts one
                   arrayDifference(arraySort(groupArray(timestamp_us))) AS gaps,
                   toUInt64(1 + arrayCount(g -> g > %(cap_us)s, gaps)) AS sessions,
                   arraySum(arrayFilter(g -> g <= %(cap_us)s, gaps)) AS tot_us,
                   groupUniqArrayIf(object_id, verb_id = 'http://adlnet.gov/expapi/verbs/completed'
                                               OR ifNull(result_completion, 0) = 1) AS done_objects,
                   max(toUInt8(object_id = course_id AND (verb_id = 'http://adlnet.gov/expapi/verbs/passed'
                                                          OR ifNull(result_success, 0) = 1))) AS passed,
                   max(is_certificate) AS certified
            FROM (
        SELECT course_id, actor_ifi, timestamp_us, verb_id, object_id, module_id, result_success, result_completion,
               toUInt8(verb_id IN %(cert_verbs)s OR match(statement, %(cert_pattern)s)) AS is_certificate
        FROM statements FINAL
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
            )
            GROUP BY course_id, actor_ifi
        ) AS l
        ANY LEFT JOIN (
            -- furthest module: the highest position among the modules the learner visited
            SELECT v_course, v_actor, argMax(mo_module, mo_position) AS furthest_module,
                   max(mo_position) AS furthest_position
            FROM (
                SELECT DISTINCT course_id AS v_course, actor_ifi AS v_actor, module_id AS v_module
                FROM statements FINAL
                WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
                  AND module_id != ''
            ) AS v
            ALL INNER JOIN (
        SELECT course_id AS mo_course, module_id AS mo_module, toUInt32(position) AS mo_position, toUInt8(1) AS mo_declared
        FROM course_structure
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s
          AND (course_id, declared_us) IN (SELECT course_id, max(declared_us) FROM course_structure
                                           WHERE tenant = %(tenant)s AND course_id IN %(courses)s GROUP BY course_id)
        UNION ALL
        SELECT course_id, tupleElement(ranked, 2), toUInt32(rank), toUInt8(0)
        FROM (
            SELECT course_id, arraySort(groupArray((avg_rank, module_id))) AS modules
            FROM (
                SELECT course_id, tupleElement(visit, 2) AS module_id, avg(visit_rank) AS avg_rank
                FROM (
                    SELECT course_id, arraySort(groupArray((first_us, module_id))) AS visits
                    FROM (
                        SELECT course_id, actor_ifi, module_id, min(timestamp_us) AS first_us
                        FROM statements FINAL
                        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
                          AND module_id != ''
                        GROUP BY course_id, actor_ifi, module_id
                    )
                    GROUP BY course_id, actor_ifi
                ) ARRAY JOIN visits AS visit, arrayEnumerate(visits) AS visit_rank
                GROUP BY course_id, module_id
            )
            GROUP BY course_id
        ) ARRAY JOIN modules AS ranked, arrayEnumerate(modules) AS rank
        WHERE course_id NOT IN (SELECT course_id FROM course_structure
                                WHERE tenant = %(tenant)s AND course_id IN %(courses)s)
            ) AS mo ON v.v_course = mo.mo_course AND v.v_module = mo.mo_module
            GROUP BY v_course, v_actor
        ) AS f ON l.course_id = f.v_course AND l.actor_ifi = f.v_actor
    ) AS lf
    ANY LEFT JOIN (
        SELECT mo_course AS s_course, argMax(mo_module, mo_position) AS last_module
        FROM (
        SELECT course_id AS mo_course, module_id AS mo_module, toUInt32(position) AS mo_position, toUInt8(1) AS mo_declared
        FROM course_structure
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s
          AND (course_id, declared_us) IN (SELECT course_id, max(declared_us) FROM course_structure
                                           WHERE tenant = %(tenant)s AND course_id IN %(courses)s GROUP BY course_id)
        UNION ALL
        SELECT course_id, tupleElement(ranked, 2), toUInt32(rank), toUInt8(0)
        FROM (
            SELECT course_id, arraySort(groupArray((avg_rank, module_id))) AS modules
            FROM (
                SELECT course_id, tupleElement(visit, 2) AS module_id, avg(visit_rank) AS avg_rank
                FROM (
                    SELECT course_id, arraySort(groupArray((first_us, module_id))) AS visits
                    FROM (
                        SELECT course_id, actor_ifi, module_id, min(timestamp_us) AS first_us
                        FROM statements FINAL
                        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND voided = 0 AND voiding_target = ''
                          AND module_id != ''
                        GROUP BY course_id, actor_ifi, module_id
                    )
                    GROUP BY course_id, actor_ifi
                ) ARRAY JOIN visits AS visit, arrayEnumerate(visits) AS visit_rank
                GROUP BY course_id, module_id
            )
            GROUP BY course_id
        ) ARRAY JOIN modules AS ranked, arrayEnumerate(modules) AS rank
        WHERE course_id NOT IN (SELECT course_id FROM course_structure
                                WHERE tenant = %(tenant)s AND course_id IN %(courses)s)
        )
        WHERE mo_declared = 1
        GROUP BY mo_course
    ) AS s ON lf.course_id = s.s_course
)
)
GROUP BY course_id, bin
