-- Seeds the legacy SQLite database of examples/data-demo.yaml:
--   sqlite3 /tmp/godwit-data/legacy.db < examples/data-demo.sql
DROP TABLE IF EXISTS order_lines;
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  email VARCHAR(200) NOT NULL,
  name TEXT,
  vip BOOLEAN NOT NULL DEFAULT 0,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX customers_email ON customers (email);
CREATE TABLE order_lines (
  order_id INTEGER NOT NULL,
  line INTEGER NOT NULL,
  customer_id INTEGER NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  note TEXT,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (order_id, line)
);
CREATE INDEX order_lines_customer ON order_lines (customer_id);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO customers (id, email, name, vip)
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i || ' ✓', i % 10 = 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO order_lines (order_id, line, customer_id, amount, note)
SELECT (i + 2) / 3, i % 3 + 1, i % 10000 + 1, (i % 50000) / 100.0, CASE WHEN i % 7 = 0 THEN NULL ELSE 'line ' || i END FROM n;
