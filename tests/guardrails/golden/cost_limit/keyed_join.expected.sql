SELECT p.name AS name, COUNT(*) AS n FROM decisions AS d JOIN partners AS p ON p.partner_id = d.partner_id GROUP BY p.name LIMIT 10000
