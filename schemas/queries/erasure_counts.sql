-- What an erasure will remove: statements naming any of the learner's identifiers, their documents,
-- and the analytics slices (courses) those statements touched.
-- params: {"tenant": "t", "ifis": ["mbox:mailto:a@example.com"]}
SELECT
    (SELECT count() FROM statements FINAL WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents)) AS statements,
    (SELECT count() FROM documents FINAL WHERE tenant = %(tenant)s AND agent IN %(ifis)s AND deleted = 0) AS documents,
    (SELECT groupUniqArray(course_id) FROM statements FINAL
     WHERE tenant = %(tenant)s AND arrayExists(a -> a IN %(ifis)s, related_agents) AND course_id != '') AS courses
