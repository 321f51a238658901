-- Record that a course's learner rows were built from all of its statements (rows passed as data).
-- insert: [["t", "c", 1]]
INSERT INTO learner_courses (tenant, course_id, built_us) VALUES
