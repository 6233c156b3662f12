"""Dagster code for the warehouse: when and in what order ingest and dbt run.

The logic lives in `ingest` (files and records) and `dbt_project` (metrics); the assets
here are thin wrappers that pass them a partition window.
"""
