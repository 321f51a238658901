-- Every course of a tenant that has statements (to mark all its analytics slices dirty: backfill).
-- params: {"tenant": "t"}
SELECT DISTINCT course_id FROM statements WHERE tenant = %(tenant)s AND course_id != '' ORDER BY course_id
