#!/usr/bin/env node
// Exactly-once consumer with node-postgres: charge each order once.
//
// Each round is one transaction: poll a batch for the group billing, insert
// a charge per order, commit the group's positions, COMMIT.  The charges and
// the positions commit together or not at all, so a crash anywhere (even
// SIGKILL) neither loses an order nor charges one twice: the batch simply
// comes again.  Between rounds it waits for a NOTIFY on the group's topics,
// outside any transaction.  Runs until stopped; start as many as you like:
// they share the topic's partitions.  Connects with the libpq environment
// variables.
'use strict';

const { Client } = require('pg');

const GROUP = 'billing';
const BATCH = 100;
// How long an idle consumer waits for a NOTIFY before it looks anyway: a
// fallback for topics with notify off.
const IDLE_TIMEOUT_MS = 30000;

const log = (...args) => console.log(new Date().toISOString(), 'consumer:', ...args);

// The business effect, in the round's transaction.
async function charge(client, order) {
  await client.query(
    'INSERT INTO charges (order_id, customer, amount_cents) VALUES ($1, $2, $3)',
    [order.order_id, order.customer, order.amount_cents]);
}

// Poll and handle one batch in one transaction; return its size.
async function runRound(client) {
  await client.query('BEGIN');
  try {
    // payload_json arrives parsed: node-postgres turns json into objects.
    const { rows } = await client.query(
      `SELECT topic, partition, "offset", payload_json
         FROM mq.poll($1, max => $2, wait => '1 s')`, [GROUP, BATCH]);
    for (const m of rows) {
      await client.query('SAVEPOINT message');
      try {
        await charge(client, m.payload_json);
        await client.query('RELEASE SAVEPOINT message');
      } catch (err) {
        // Undo this message's effect only, and hand it back for a later
        // retry; the rest of the batch commits.
        await client.query('ROLLBACK TO SAVEPOINT message');
        log(`${m.topic}[${m.partition}]@${m.offset} failed, nacked: ${err.message}`);
        await client.query('SELECT mq.nack($1, $2, $3, $4)',
          [GROUP, m.topic, m.partition, m.offset]);
      }
    }
    // In the same transaction as the charges: this is what makes it
    // exactly-once.  Committed apart, a crash in between would lose the
    // batch or charge it again.
    await client.query('SELECT mq.commit($1)', [GROUP]);
    await client.query('COMMIT');
    return rows.length;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function main() {
  const client = new Client();
  // LISTEN on a connection of its own: its notifications arrive as events
  // whenever they come, even while the other connection runs a round.
  const listener = new Client();
  await client.connect();
  await listener.connect();

  let notified = false;
  let wake = null;
  listener.on('notification', () => {
    notified = true;
    if (wake) wake();
  });
  // LISTEN commits before the first round: any commit the first round does
  // not see notifies the listener.
  const { rows: channels } = await client.query(
    `SELECT t.channel FROM mq.subscriptions s JOIN mq.topics t ON t.name = s.topic
      WHERE s."group" = $1 AND t.channel IS NOT NULL`, [GROUP]);
  for (const { channel } of channels) {
    await listener.query(`LISTEN ${listener.escapeIdentifier(channel)}`);
  }

  for (;;) {
    notified = false;
    const handled = await runRound(client);
    if (handled > 0) {
      log(`handled a batch of ${handled}`);
      continue;
    }
    // Nothing runs between this test and setting wake: a notification
    // either came during the round or will call wake.
    if (notified) continue;
    log(`idle: waiting for a NOTIFY (${IDLE_TIMEOUT_MS / 1000} s at most)`);
    await new Promise((resolve) => {
      const timer = setTimeout(resolve, IDLE_TIMEOUT_MS);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    wake = null;
    if (notified) log('woken by NOTIFY');
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
