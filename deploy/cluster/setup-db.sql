-- The database of an orderly cluster (docs/operations.md, "Several nodes").
-- Run once as the postgres user on the database host:
--   sudo -u postgres psql -v password="'change-me'" -f deploy/cluster/setup-db.sql
-- then give the nodes ORDERLY_DB=postgres://orderly:change-me@db.internal:5432/orderly
-- (deploy/cluster/orderly-node.env).  The first node to start creates the tables.
CREATE ROLE orderly LOGIN PASSWORD :password;
CREATE DATABASE orderly OWNER orderly ENCODING 'UTF8' TEMPLATE template0;
\connect orderly
-- one schema per environment keeps environments apart in one database
-- (channel and locks are per schema); the nodes name it in their URL:
--   ...?options=-csearch_path%3Dprod   (else they use public)
ALTER SCHEMA public OWNER TO orderly;
CREATE SCHEMA prod AUTHORIZATION orderly;
