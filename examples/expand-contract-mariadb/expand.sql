-- Expand: full_name beside first_name/last_name; old columns made nullable
-- so that new code (writing only full_name) survives the contract window.
ALTER TABLE employees ADD COLUMN full_name VARCHAR(31) NULL;
ALTER TABLE employees MODIFY first_name VARCHAR(14) NULL;
ALTER TABLE employees MODIFY last_name VARCHAR(16) NULL;
