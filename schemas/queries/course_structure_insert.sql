-- Write one declaration of a course structure (rows passed as data; all rows of a declaration share declared_us).
-- insert: [["t", "c", 1, "c/modules/1", 1, "Welcome", "Course"]]
INSERT INTO course_structure (tenant, course_id, declared_us, module_id, position, name, course_name) VALUES
