#!/usr/bin/env python3
"""Outbox producer with psycopg 3: place COUNT orders (default 1).

Each order row and its order.created event commit in one transaction:
both exist, or neither.  There is no outbox table and no relay.
Connects with the libpq environment (PGHOST, PGDATABASE, ...).
"""
import random
import sys

import psycopg
from psycopg.types.json import Jsonb

CUSTOMERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]


def place_order(conn, customer, amount_cents):
    with conn.transaction():
        (order_id,) = conn.execute(
            """INSERT INTO orders (customer, amount_cents) VALUES (%s, %s)
               RETURNING id""", (customer, amount_cents)).fetchone()
        event = {"order_id": order_id, "customer": customer,
                 "amount_cents": amount_cents}
        # Jsonb() sends the dict typed as jsonb: consumers get it back as
        # JSON.  The key keeps a customer's events in order, in one partition.
        conn.execute("SELECT mq.send('order.created', %s, key => %s)",
                     (Jsonb(event), customer))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    with psycopg.connect(autocommit=True) as conn:
        for _ in range(count):
            place_order(conn, random.choice(CUSTOMERS),
                        random.randint(100, 99_999))


if __name__ == "__main__":
    main()
