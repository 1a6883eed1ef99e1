#!/usr/bin/env node
// Outbox producer with node-postgres: place COUNT orders (default 1).
//
// Each order row and its order.created event commit in one transaction:
// both exist, or neither.  There is no outbox table and no relay.
// Connects with the libpq environment variables (PGHOST, PGDATABASE, ...).
'use strict';

const { Client } = require('pg');

const CUSTOMERS = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace'];

async function placeOrder(client, customer, amountCents) {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query(
      'INSERT INTO orders (customer, amount_cents) VALUES ($1, $2) RETURNING id',
      [customer, amountCents]);
    // bigint comes back as a string; order ids fit in a JS number.
    const event = { order_id: Number(rows[0].id), customer, amount_cents: amountCents };
    // node-postgres sends an object as untyped JSON text, and mq.send takes
    // an untyped JSON object as JSON: consumers get an object back.  The key
    // keeps a customer's events in order, in one partition.
    await client.query("SELECT mq.send('order.created', $1, key => $2)",
      [event, customer]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  }
}

async function main() {
  const count = Number(process.argv[2] ?? 1);
  const client = new Client();
  await client.connect();
  try {
    for (let i = 0; i < count; i++) {
      const customer = CUSTOMERS[Math.floor(Math.random() * CUSTOMERS.length)];
      await placeOrder(client, customer, 100 + Math.floor(Math.random() * 99900));
    }
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
