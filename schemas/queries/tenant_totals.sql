-- Totals of a tenant: statements stored (each once), voided, distinct learners.
-- params: {"tenant": "t"}
SELECT count() AS statements,
       countIf(voided = 1) AS voided,
       uniqExact(actor_ifi) AS learners,
       uniqExact(statement_id) AS distinct_ids
FROM statements FINAL
WHERE tenant = %(tenant)s
