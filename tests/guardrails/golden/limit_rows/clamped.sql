-- team: growth
SELECT partner_id FROM partners LIMIT 1000000
