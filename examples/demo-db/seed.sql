-- The legacy shop database of examples/live-demo.yaml: 100,000 rows in
-- three tables (10,000 customers, 30,000 orders, 60,000 order lines).
-- Run by `demo-db seed FILE`; scripts/demo.sh does it for you.
DROP TABLE IF EXISTS order_lines;
DROP TABLE IF EXISTS orders;
DROP TABLE IF EXISTS customers;
CREATE TABLE customers (
  id INTEGER PRIMARY KEY,
  email VARCHAR(200) NOT NULL,
  name TEXT,
  vip BOOLEAN NOT NULL DEFAULT 0,
  updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX customers_email ON customers (email);
CREATE TABLE orders (
  id INTEGER PRIMARY KEY,
  customer_id INTEGER NOT NULL,
  status VARCHAR(20) NOT NULL,
  total DECIMAL(12,2) NOT NULL,
  placed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE TABLE order_lines (
  order_id INTEGER NOT NULL,
  line INTEGER NOT NULL,
  product VARCHAR(100) NOT NULL,
  quantity INTEGER NOT NULL,
  amount DECIMAL(12,2) NOT NULL,
  note TEXT,
  PRIMARY KEY (order_id, line)
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO customers (id, email, name, vip)
SELECT i, 'customer' || i || '@example.com', 'Customer ' || i, i % 10 = 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30000)
INSERT INTO orders (id, customer_id, status, total)
SELECT i, i % 10000 + 1, CASE i % 4 WHEN 0 THEN 'shipped' WHEN 1 THEN 'paid' WHEN 2 THEN 'delivered' ELSE 'new' END, (i % 90000) / 100.0 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 60000)
INSERT INTO order_lines (order_id, line, product, quantity, amount, note)
SELECT (i + 1) / 2, i % 2 + 1, 'product ' || (i % 500), i % 5 + 1, (i % 40000) / 100.0, CASE WHEN i % 7 = 0 THEN NULL ELSE 'line ' || i END FROM n;
