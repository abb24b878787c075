-- team: growth
SELECT partner_id, count(*) AS n FROM decisions GROUP BY partner_id ORDER BY n DESC
