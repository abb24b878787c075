-- raises: CostLimitError
-- team: growth
-- cost_limit: 10x
WITH x AS (SELECT partner_id FROM decisions)
SELECT count(*) AS n FROM x JOIN partners p ON p.partner_id = x.partner_id JOIN applications a ON a.partner_id = p.partner_id
