"""PostgreSQL: roles, migrations, and the async connection pool."""
