-- team: growth
WITH bureau_reports AS (SELECT partner_id FROM partners) SELECT * FROM bureau_reports
