"""Persistence: tables, the async engine, queries and the durable job queue. Imports nothing from bot/."""
