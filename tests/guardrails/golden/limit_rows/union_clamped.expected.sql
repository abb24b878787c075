SELECT partners.partner_id AS partner_id FROM partners AS partners UNION ALL SELECT lenders.lender_id AS lender_id FROM lenders AS lenders LIMIT 10000
