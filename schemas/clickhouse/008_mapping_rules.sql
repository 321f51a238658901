-- Per-tenant course mapping rules (lrs courses rules): which activity types mark a course and a module.
-- A tenant without a row uses the defaults of streams/mapping.py (ADL course; ADL module or lesson).
CREATE TABLE IF NOT EXISTS mapping_rules
(
    tenant String,
    course_types Array(String),
    module_types Array(String),
    updated_us UInt64
)
ENGINE = ReplacingMergeTree(updated_us)
ORDER BY tenant;
