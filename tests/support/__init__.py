"""Reusable test helpers: real PostgreSQL databases and a real S3 endpoint on loopback."""
