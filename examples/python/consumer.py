#!/usr/bin/env python3
"""Exactly-once consumer with psycopg 3: charge each order once.

Each round is one transaction: poll a batch for the group billing, insert
a charge per order, commit the group's positions, COMMIT.  The charges and
the positions commit together or not at all, so a crash anywhere (even
SIGKILL) neither loses an order nor charges one twice: the batch simply
comes again.  Between rounds it waits for a NOTIFY on the group's topics,
outside any transaction.  Runs until stopped; start as many as you like:
they share the topic's partitions.  Connects with the libpq environment.
"""
import logging
import select
import threading

import psycopg
from psycopg import sql

GROUP = "billing"
BATCH = 100
# How long an idle consumer waits for a NOTIFY before it looks anyway: a
# fallback for topics with notify off.
IDLE_TIMEOUT = 30

log = logging.getLogger("consumer")


def charge(conn, order):
    """The business effect, in the round's transaction."""
    conn.execute(
        """INSERT INTO charges (order_id, customer, amount_cents)
           VALUES (%s, %s, %s)""",
        (order["order_id"], order["customer"], order["amount_cents"]))


def run_round(conn):
    """Poll and handle one batch in one transaction; return its size."""
    with conn.transaction():
        rows = conn.execute(
            """SELECT topic, partition, "offset", payload_json
                 FROM mq.poll(%s, max => %s, wait => '1 s')""",
            (GROUP, BATCH)).fetchall()
        for topic, partition, offset, order in rows:
            try:
                with conn.transaction():  # a savepoint per message
                    charge(conn, order)
            except Exception as e:
                # Undo this message's effect only, and hand it back for a
                # later retry; the rest of the batch commits.
                log.warning("%s[%d]@%d failed, nacked: %s",
                            topic, partition, offset, e)
                conn.execute("SELECT mq.nack(%s, %s, %s, %s)",
                             (GROUP, topic, partition, offset))
        # In the same transaction as the charges: this is what makes it
        # exactly-once.  Committed apart, a crash in between would lose
        # the batch or charge it again.
        conn.execute("SELECT mq.commit(%s)", (GROUP,))
    return len(rows)


def main():
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s")
    # Autocommit, so that each round's transaction is exactly the
    # conn.transaction() block and idle waits hold no snapshot.
    conn = psycopg.connect(autocommit=True)
    notified = threading.Event()
    conn.add_notify_handler(lambda n: notified.set())

    # LISTEN commits before the first round: any commit the first round
    # does not see notifies this connection.
    channels = conn.execute(
        """SELECT t.channel FROM mq.subscriptions s
             JOIN mq.topics t ON t.name = s.topic
            WHERE s."group" = %s AND t.channel IS NOT NULL""",
        (GROUP,)).fetchall()
    for (channel,) in channels:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    while True:
        notified.clear()
        handled = run_round(conn)
        if handled:
            log.info("handled a batch of %d", handled)
            continue
        # A NOTIFY that came during the round was read with its COMMIT
        # and ran the handler; one sent later makes the socket readable.
        if notified.is_set():
            continue
        log.info("idle: waiting for a NOTIFY (%d s at most)", IDLE_TIMEOUT)
        if select.select([conn.fileno()], [], [], IDLE_TIMEOUT)[0]:
            conn.execute("SELECT 1")  # reads the notifications
            if notified.is_set():
                log.info("woken by NOTIFY")


if __name__ == "__main__":
    main()
