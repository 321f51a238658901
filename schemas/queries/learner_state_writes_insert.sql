-- A refresh wrote learner_state rows of a course (streams/refresh.py).
-- insert: [["t", "c", "writer-1", 1]]
INSERT INTO learner_state_writes (tenant, course_id, writer, version) VALUES
