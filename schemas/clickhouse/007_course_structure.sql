-- Course structures declared by tenants (PUT /api/courses/structure, `lrs courses import`): the ordered
-- modules of a course. Each declaration is a set of rows sharing `declared_us`; the latest declaration of a
-- course is its structure (older ones stay as history). Courses without one get an inferred module order.
CREATE TABLE IF NOT EXISTS course_structure
(
    tenant String,
    course_id String,
    declared_us Int64,
    module_id String,
    position UInt32,
    name String,
    course_name String
)
ENGINE = ReplacingMergeTree()
ORDER BY (tenant, course_id, declared_us, module_id);
