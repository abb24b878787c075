-- team: growth
WITH a AS (SELECT partner_id FROM decisions) SELECT partner_id, count(*) AS n FROM a GROUP BY 1
