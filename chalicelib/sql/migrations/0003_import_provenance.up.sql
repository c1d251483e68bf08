-- Which users POST /user/import may update (issue 19): those it created, or adopted when the
-- team sent "adopt": true. Users from before this migration are not the import's (nothing
-- says who set their externalId); a team that trusts its data runs its next import with adopt.
ALTER TABLE users ADD COLUMN managed_by_import boolean NOT NULL DEFAULT false;
