package testenv

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Row counts of the tables in SampleSQL.
const (
	SampleCustomers = 5
	SampleOrders    = 8
	SampleAllTypes  = 3
)

// SampleSQL creates and fills three deterministic tables in the public
// schema: customers (PII columns for masking), orders (referencing
// customers) and all_types (one column per common type; row 3 is all NULL).
// It fails when the tables already exist.
const SampleSQL = `
CREATE TABLE customers (
	id          integer PRIMARY KEY,
	name        text NOT NULL,
	email       text NOT NULL UNIQUE,
	ssn         text,
	phone       text,
	card_number text,
	balance     numeric(12,2) NOT NULL DEFAULT 0,
	created_at  timestamptz NOT NULL,
	notes       text
);

INSERT INTO customers (id, name, email, ssn, phone, card_number, balance, created_at, notes) VALUES
	(1, 'Ada Lovelace',    'ada@example.com',    '123-45-6789', '+1-555-0101', '4111111111111111', 1520.50, '2024-01-02 10:00:00+00', 'prefers email'),
	(2, 'Alan Turing',     'alan@example.com',   '234-56-7890', '+1-555-0102', '5500000000000004', 0.00,    '2024-02-03 11:30:00+00', NULL),
	(3, 'Grace Hopper',    'grace@example.com',  '345-67-8901', '+1-555-0103', '340000000000009',  -42.10,  '2024-03-04 12:45:00+00', 'VIP; card on file'),
	(4, 'Edsger Dijkstra', 'edsger@example.com', NULL,          NULL,          NULL,               99999.99, '2024-04-05 08:15:00+00', 'no phone'),
	(5, 'Barbara Liskov',  'barbara@example.com','456-78-9012', '+1-555-0105', '6011000000000004', 250.00,  '2024-05-06 17:20:00+00', 'O''Brien referral');

CREATE TABLE orders (
	id          integer PRIMARY KEY,
	customer_id integer NOT NULL REFERENCES customers (id),
	product     text NOT NULL,
	quantity    integer NOT NULL,
	amount      numeric(12,2) NOT NULL,
	status      text NOT NULL,
	ordered_at  timestamptz NOT NULL
);

INSERT INTO orders (id, customer_id, product, quantity, amount, status, ordered_at) VALUES
	(1, 1, 'analytical engine', 1, 1200.00, 'shipped',   '2024-06-01 09:00:00+00'),
	(2, 1, 'punch cards',      500,   25.00, 'delivered', '2024-06-02 09:00:00+00'),
	(3, 2, 'bombe rotor',        3,  300.00, 'pending',   '2024-06-03 09:00:00+00'),
	(4, 3, 'compiler manual',    2,   80.00, 'shipped',   '2024-06-04 09:00:00+00'),
	(5, 3, 'nanosecond wire',   10,    4.20, 'cancelled', '2024-06-05 09:00:00+00'),
	(6, 4, 'semaphore',          1,   15.00, 'pending',   '2024-06-06 09:00:00+00'),
	(7, 5, 'clu handbook',       1,   45.50, 'delivered', '2024-06-07 09:00:00+00'),
	(8, 5, 'abstract data type', 4,  120.00, 'shipped',   '2024-06-08 09:00:00+00');

CREATE TABLE all_types (
	id            integer PRIMARY KEY,
	c_int2        smallint,
	c_int4        integer,
	c_int8        bigint,
	c_numeric     numeric(20,6),
	c_float4      real,
	c_float8      double precision,
	c_text        text,
	c_varchar     varchar(64),
	c_char        char(4),
	c_bytea       bytea,
	c_json        json,
	c_jsonb       jsonb,
	c_int4_array  integer[],
	c_text_array  text[],
	c_timestamp   timestamp,
	c_timestamptz timestamptz,
	c_date        date,
	c_time        time,
	c_interval    interval,
	c_uuid        uuid,
	c_bool        boolean,
	c_inet        inet
);

INSERT INTO all_types VALUES
	(1, 12, 123456, 1234567890123, 12345.678901, 1.5, 2.25, 'hello', 'varchar value', 'abcd',
	 '\x00ff10', '{"a": 1, "b": [true, null]}', '{"email": "ada@example.com", "n": 2}',
	 '{1,2,3}', '{"x","y z","O''Brien"}',
	 '2024-01-02 03:04:05.123456', '2024-01-02 03:04:05.123456+00', '2024-01-02', '03:04:05', '1 day 02:03:04',
	 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', true, '192.0.2.10'),
	(2, -32768, -2147483648, -9223372036854775808, -0.000001, 'NaN', '-Infinity', '', 'ünïcødé ✓', 'z',
	 '\x', '[]', '{}',
	 '{}', '{NULL,""}',
	 '1970-01-01 00:00:00', '1970-01-01 00:00:00+00', '1970-01-01', '23:59:59.999999', '-1 mons',
	 '00000000-0000-0000-0000-000000000000', false, '2001:db8::1/64'),
	(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL,
	 NULL, NULL,
	 NULL, NULL, NULL, NULL, NULL,
	 NULL, NULL, NULL);
`

// LoadSampleData runs SampleSQL in p.Database in one transaction. When the
// interlock_admin role exists, the tables are created as (and owned by) it.
func (p *Postgres) LoadSampleData(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.SocketDSN(p.Superuser, p.Database))
	if err != nil {
		return fmt.Errorf("load sample data: %w", err)
	}
	defer conn.Close(context.Background())
	var hasAdmin bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", RoleAdmin).Scan(&hasAdmin); err != nil {
		return fmt.Errorf("load sample data: look up %s: %w", RoleAdmin, err)
	}
	setRole := ""
	if hasAdmin {
		setRole = "SET LOCAL ROLE " + RoleAdmin + ";"
	}
	if _, err := conn.Exec(ctx, "BEGIN;"+setRole+SampleSQL+"COMMIT;"); err != nil {
		return fmt.Errorf("load sample data: %w", err)
	}
	return nil
}
