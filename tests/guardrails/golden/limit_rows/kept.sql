-- team: growth
SELECT partner_id FROM partners LIMIT 5
