-- Expand: add the new column beside the old one. Old code keeps writing
-- email; the dual-write triggers fill email_address on each of its writes.
ALTER TABLE users ADD COLUMN email_address VARCHAR(320);
CREATE INDEX users_email_address ON users (email_address);
