-- raises: CartesianJoinError
-- team: growth
SELECT count(*) FROM decisions CROSS JOIN applications
