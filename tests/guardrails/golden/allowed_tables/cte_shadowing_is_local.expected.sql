WITH bureau_reports AS (SELECT partners.partner_id AS partner_id FROM partners AS partners) SELECT bureau_reports.partner_id AS partner_id FROM bureau_reports AS bureau_reports LIMIT 10000
