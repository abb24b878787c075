WITH a AS (SELECT decisions.partner_id AS partner_id FROM decisions AS decisions) SELECT a.partner_id AS partner_id, COUNT(*) AS n FROM a AS a GROUP BY a.partner_id LIMIT 10000
