SELECT partners.partner_id AS partner_id FROM partners AS partners LIMIT 10000
