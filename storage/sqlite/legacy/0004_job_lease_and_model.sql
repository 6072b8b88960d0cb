-- `retry_jobs.lease` as the data model names it (epoch seconds the running job's lease ends),
-- and the configured LLM deployment that wrote each post next to the model that answered.
ALTER TABLE retry_jobs RENAME COLUMN lease_until TO lease;
ALTER TABLE posts ADD COLUMN llm_deployment TEXT;
