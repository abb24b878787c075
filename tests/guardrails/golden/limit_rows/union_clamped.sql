-- team: growth
SELECT partner_id FROM partners UNION ALL SELECT lender_id FROM lenders LIMIT 99999
