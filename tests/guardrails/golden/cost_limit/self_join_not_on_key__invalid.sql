-- raises: CostLimitError
-- team: growth
-- cost_limit: 10x
SELECT count(*) AS n FROM decisions a JOIN decisions b ON a.partner_id = b.partner_id
