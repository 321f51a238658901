-- A course's input to the tenant clock, from the learners the owning worker holds in memory.
-- insert: [["t", "c", 1000000, 3, 1]]
INSERT INTO analytics_course_clock (tenant, course_id, clock_us, learners, version) VALUES
