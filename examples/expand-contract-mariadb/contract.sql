-- Contract: once every reader and writer uses full_name, the old columns
-- go (Godwit removes its dual-write triggers first, MariaDB DDL commits at
-- once: hence the old columns made nullable by the expand).
ALTER TABLE employees DROP COLUMN first_name, DROP COLUMN last_name;
