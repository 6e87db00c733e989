-- Rollback of the expand, in the reverse order of expand.sql (so that it
-- undoes whatever prefix of it ran). Godwit removes its dual-write
-- triggers first.
ALTER TABLE employees MODIFY last_name VARCHAR(16) NOT NULL;
ALTER TABLE employees MODIFY first_name VARCHAR(14) NOT NULL;
ALTER TABLE employees DROP COLUMN full_name;
