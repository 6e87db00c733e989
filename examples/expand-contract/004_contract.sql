-- Contract: once every reader and writer uses email_address, the old
-- column goes (Godwit removes its dual-write triggers first).
ALTER TABLE users DROP COLUMN email;
