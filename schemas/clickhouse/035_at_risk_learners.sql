-- The at-risk and dropped learners of each course, longest silent first, at most 200 per course (docs/metrics.md):
-- what the brand overview's at-risk panel lists. Written with every version of the course from the worker's
-- memory (its last-seen index), so the panel reads a few hundred rows per course instead of every learner row of
-- the tenant with FINAL.
CREATE TABLE IF NOT EXISTS at_risk_learners_data
(
    tenant String,
    course_id String,
    actor_ifi String,
    status String,
    last_seen DateTime,
    last_seen_us Int64,
    inactive_s Int64,
    furthest_module String,
    furthest_position UInt32,
    time_on_task_s Float64,
    version UInt64
)
ENGINE = MergeTree()
ORDER BY (tenant, course_id, version, actor_ifi);

CREATE VIEW IF NOT EXISTS at_risk_learners AS
SELECT tenant, course_id, actor_ifi, status, last_seen, last_seen_us, inactive_s, furthest_module, furthest_position,
       time_on_task_s
FROM at_risk_learners_data
WHERE (tenant, course_id, version) IN (SELECT tenant, course_id, max(version) FROM analytics_slices GROUP BY tenant, course_id);

-- The current version of every course, from learner_course (the next derivation of a course writes its own).
INSERT INTO at_risk_learners_data
SELECT tenant, course_id, actor_ifi, status, last_seen, last_seen_us, inactive_s, furthest_module, furthest_position,
       time_on_task_s, v_version
FROM (
    SELECT tenant, course_id, actor_ifi, status, last_seen, last_seen_us, inactive_s, furthest_module,
           furthest_position, time_on_task_s
    FROM learner_course
    WHERE status IN ('at_risk', 'dropped')
    ORDER BY tenant, course_id, status = 'at_risk' DESC, inactive_s DESC, actor_ifi
    LIMIT 200 BY tenant, course_id
) AS l
ALL INNER JOIN (
    SELECT tenant AS v_tenant, course_id AS v_course, max(version) AS v_version
    FROM analytics_slices
    GROUP BY tenant, course_id
) AS v ON l.tenant = v.v_tenant AND l.course_id = v.v_course;
