-- Set a tenant's course mapping rules (rows passed as data; the newest updated_us wins).
-- insert: [["t", ["http://adlnet.gov/expapi/activities/course"], ["http://adlnet.gov/expapi/activities/module"], 1]]
INSERT INTO mapping_rules (tenant, course_types, module_types, updated_us) VALUES
