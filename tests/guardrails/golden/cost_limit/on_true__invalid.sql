-- raises: CartesianJoinError
-- team: growth
SELECT count(*) FROM decisions d JOIN loans l ON true
