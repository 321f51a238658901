-- `course_funnel` derived from the learners' rows (learner_state, and the learner_course rows of the same version
-- for the dropped learners): equal row for row to analytics_course_funnel over `statements` (the batch query).
-- params: {"tenant": "t", "courses": ["c"], "clock_us": 1000000, "cap_us": 1800000000, "at_risk_us": 259200000000, "dropped_us": 604800000000, "active_us": 604800000000, "cert_verbs": ["http://id.tincanapi.com/verb/earned"], "cert_pattern": "\"type\":\"(x)\"", "version": 1}
SELECT %(tenant)s AS tenant, mo_course AS course_id, mo_position AS position, mo_module AS module_id,
       mo_declared AS declared, learners_reached, dropped_here
FROM (
    SELECT mo_course, mo_position, mo_module, mo_declared, learners_reached
    FROM (
        SELECT mo_course, mo_module, mo_position, mo_declared
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
                    -- each learner's modules in the order of their first visits (learner_state.visit_*)
                    SELECT course_id, arraySort(arrayMap((m, t) -> (t, m), visit_modules, visit_first_us)) AS visits
                    FROM learner_state FINAL
                    WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
                ) ARRAY JOIN visits AS visit, arrayEnumerate(visits) AS visit_rank
                GROUP BY course_id, module_id
            )
            GROUP BY course_id
        ) ARRAY JOIN modules AS ranked, arrayEnumerate(modules) AS rank
        WHERE course_id NOT IN (SELECT course_id FROM course_structure
                                WHERE tenant = %(tenant)s AND course_id IN %(courses)s)
        )
    ) AS mo
    ANY LEFT JOIN (
        SELECT course_id AS r_course, r_module, count() AS learners_reached
        FROM learner_state FINAL
        ARRAY JOIN visit_modules AS r_module
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND present = 1
        GROUP BY course_id, r_module
    ) AS r ON mo.mo_course = r.r_course AND mo.mo_module = r.r_module
) AS mr
ANY LEFT JOIN (
    SELECT course_id AS d_course, furthest_module AS d_module, count() AS dropped_here
    FROM (
        SELECT course_id, actor_ifi, last_seen_us, furthest_module, furthest_position, completed, passed, certified,
               status
        -- the learner_course rows this derivation has just written (same version): one narrow read
        FROM learner_course_data
        WHERE tenant = %(tenant)s AND course_id IN %(courses)s AND version = %(version)s
    )
    WHERE status = 'dropped' AND furthest_module != ''
    GROUP BY course_id, furthest_module
) AS d ON mr.mo_course = d.d_course AND mr.mo_module = d.d_module
