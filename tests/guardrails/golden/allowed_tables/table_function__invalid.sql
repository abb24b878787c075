-- raises: TableFunctionError
-- team: risk
SELECT * FROM read_parquet('x.parquet')
