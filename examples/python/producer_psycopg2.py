#!/usr/bin/env python3
"""Outbox producer with psycopg2: place COUNT orders (default 1).

The same as producer.py.  psycopg2's Json() sends the dict untyped;
mq.send takes an untyped JSON object or array as JSON, so consumers get
the same payload as from psycopg 3's Jsonb().
"""
import random
import sys

import psycopg2
from psycopg2.extras import Json

CUSTOMERS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]


def place_order(conn, customer, amount_cents):
    with conn, conn.cursor() as cur:  # one transaction: COMMIT, or ROLLBACK
        cur.execute("""INSERT INTO orders (customer, amount_cents)
                       VALUES (%s, %s) RETURNING id""",
                    (customer, amount_cents))
        (order_id,) = cur.fetchone()
        event = {"order_id": order_id, "customer": customer,
                 "amount_cents": amount_cents}
        cur.execute("SELECT mq.send('order.created', %s, key => %s)",
                    (Json(event), customer))


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    conn = psycopg2.connect("")
    try:
        for _ in range(count):
            place_order(conn, random.choice(CUSTOMERS),
                        random.randint(100, 99_999))
    finally:
        conn.close()


if __name__ == "__main__":
    main()
