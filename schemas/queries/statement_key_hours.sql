-- Statements per hour of stored time for one filter value (kind 0, key '': the whole tenant; hour = stored_us /
-- 3600 s): how lrs/service/statements/page.py sizes the window a page is looked for in.
-- params: {"tenant": "t", "kind": 0, "key": ""}
SELECT hour, sum(statements) AS statements
FROM statement_key_hours_by_month
WHERE tenant = %(tenant)s AND kind = %(kind)s AND key = %(key)s
GROUP BY hour
ORDER BY hour
