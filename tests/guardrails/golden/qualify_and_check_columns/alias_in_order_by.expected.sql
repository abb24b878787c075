SELECT decisions.partner_id AS partner_id, COUNT(*) AS n FROM decisions AS decisions GROUP BY decisions.partner_id ORDER BY n DESC LIMIT 10000
