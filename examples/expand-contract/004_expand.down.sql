-- Rollback of the expand (the phase's compensation): the schema as it was.
DROP INDEX users_email_address;
ALTER TABLE users DROP COLUMN email_address;
