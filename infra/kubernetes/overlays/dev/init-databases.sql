-- The Prefect server's database, beside llmgenie's (POSTGRES_DB).
CREATE DATABASE prefect OWNER llmgenie;
