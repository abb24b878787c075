SELECT p.name AS name, COUNT(*) AS n FROM decisions AS d, partners AS p WHERE p.partner_id = d.partner_id GROUP BY p.name LIMIT 10000
