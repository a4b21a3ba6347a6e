"""Embedded defaults: PostgreSQL and Redis from wheels, run as child processes."""
