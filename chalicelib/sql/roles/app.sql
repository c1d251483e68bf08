-- The application role's grants, applied by the migrate step after every migration run (so a
-- table a migration adds is granted the same deploy). {role} and {database} are identifiers
-- filled in by chalicelib/db_roles.py. Rows only: no DDL, no TRUNCATE, no schema_migrations.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT CONNECT ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA public TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};
REVOKE ALL ON schema_migrations FROM {role};
