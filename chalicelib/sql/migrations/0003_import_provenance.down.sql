ALTER TABLE users DROP COLUMN managed_by_import;
