-- raises: CostLimitError
-- team: risk
-- cost_limit: 10x
-- a join linked by no equality is a filtered cross product, whatever the planner guesses
SELECT count(*) AS n FROM decisions d JOIN bureau_reports b ON b.applicant_id <> d.application_id
