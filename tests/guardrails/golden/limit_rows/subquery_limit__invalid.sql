-- raises: LimitError
-- team: growth
SELECT partner_id FROM partners LIMIT (SELECT 5)
