'use strict';
// Drives a running Sluice broker through the wire contract, loading proto/sluice/v1/sluice.proto at
// run time: publish, batch publish, list, subscribe with credits, ack, reconnect and resume after the
// ack, takeover, stats and a refused name. Prints each check; exits 1 on the first mismatch.
//
//   node interop.js [HOST:PORT]        (default: $SLUICE_TARGET, else 127.0.0.1:50051)
//
// With $SLUICE_TLS_CA (a PEM file) it connects over TLS trusting that CA; with $SLUICE_TOKEN it sends
// `authorization: Bearer <token>` on every call (grpc-js sends call credentials over TLS only).

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.resolve(__dirname, '../../proto/sluice/v1/sluice.proto');
const TARGET = process.argv[2] || process.env.SLUICE_TARGET || '127.0.0.1:50051';
const WAIT_MS = 20000;   // per awaited message or call; the broker's heartbeat is 10 s by default

const definition = protoLoader.loadSync(PROTO, {
  keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
});
const sluice = grpc.loadPackageDefinition(definition).sluice.v1;

function credentials() {
  const ca = process.env.SLUICE_TLS_CA;
  const token = process.env.SLUICE_TOKEN;
  if (!ca) {
    if (token) {
      throw new Error('SLUICE_TOKEN needs SLUICE_TLS_CA: grpc-js sends tokens over TLS only');
    }
    return grpc.credentials.createInsecure();
  }
  const tls = grpc.credentials.createSsl(fs.readFileSync(ca));
  if (!token) {
    return tls;
  }
  const bearer = grpc.credentials.createFromMetadataGenerator((params, callback) => {
    const metadata = new grpc.Metadata();
    metadata.add('authorization', 'Bearer ' + token);
    callback(null, metadata);
  });
  return grpc.credentials.combineChannelCredentials(tls, bearer);
}

const client = new sluice.Sluice(TARGET, credentials());


let passed = 0;

function check(ok, what, detail) {
  if (!ok) {
    throw new Error(`${what}${detail === undefined ? '' : ` (got ${detail})`}`);
  }
  passed += 1;
  console.log(`interop: ok ${passed} - ${what}`);
}

function unary(method, request) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + WAIT_MS }, (err, response) => {
      if (err) reject(err); else resolve(response);
    });
  });
}

function deadline(ms, what) {
  let timer;
  const p = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`nothing within ${ms} ms: ${what}`)), ms);
  });
  return { p, clear: () => clearTimeout(timer) };
}

/** One Subscribe call: downstream messages queue up; next() waits for the next one, with a deadline. */
class Stream {
  constructor(init) {
    this.queue = [];
    this.waiting = null;
    this.status = null;
    this.call = client.Subscribe();
    this.call.on('data', (m) => this.push({ message: m }));
    this.call.on('error', (e) => { this.status = e; this.push({ end: e }); });
    this.call.on('end', () => this.push({ end: this.status || { code: grpc.status.OK } }));
    this.call.write({ init });
  }

  push(item) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(item);
    } else {
      this.queue.push(item);
    }
  }

  async next(what) {
    if (this.queue.length > 0) return this.queue.shift();
    const d = deadline(WAIT_MS, what);
    try {
      return await Promise.race([new Promise((resolve) => { this.waiting = resolve; }), d.p]);
    } finally {
      d.clear();
    }
  }

  credit(n) { this.call.write({ credit: { credits: n } }); }

  ack(id) { this.call.write({ ack: { message_id: id } }); }

  /** The next delivery, skipping heartbeats. */
  async delivery() {
    for (;;) {
      const item = await this.next('a delivery');
      if (item.end) throw new Error(`the stream ended instead of delivering: ${item.end.code} ${item.end.details}`);
      const m = item.message;
      if (m.response === 'delivery') return m.delivery;
      if (m.response === 'error') throw new Error(`stream error instead of a delivery: ${m.error.code}`);
    }
  }

  /** The id of the next AckSynced, skipping heartbeats. */
  async synced() {
    for (;;) {
      const item = await this.next('an AckSynced');
      if (item.end) throw new Error(`the stream ended instead of answering the sync: ${item.end.code}`);
      const m = item.message;
      if (m.response === 'synced') return m.synced.id;
      if (m.response !== 'heartbeat') throw new Error(`${m.response} instead of synced`);
    }
  }

  /** Fails on a delivery before a heartbeat reports latest_seq >= latest: the broker holds them back. */
  async heartbeatWithoutDelivery(latest) {
    for (;;) {
      const item = await this.next(`a heartbeat reporting ${latest}`);
      if (item.end) throw new Error(`the stream ended: ${item.end.code}`);
      const m = item.message;
      if (m.response === 'delivery') return m.delivery;
      if (m.response === 'deliveries') return m.deliveries.deliveries[0];
      if (m.response === 'heartbeat' && BigInt(m.heartbeat.latest_seq) >= latest) return null;
    }
  }

  /** The StreamError code and then the final status code. */
  async ending() {
    let code = null;
    for (;;) {
      const item = await this.next('the end of the stream');
      if (item.end) return { code, status: item.end.code };
      if (item.message.response === 'error') code = item.message.error.code;
    }
  }

  cancel() { this.call.cancel(); }
}

async function groupStats(topic, group) {
  const r = await unary('GetTopicStats', { topics: [topic] });
  const stats = r.stats[0];
  return { stats, group: stats && stats.consumer_groups.find((g) => g.group_name === group) };
}

/** Polls GetTopicStats until the group's committed cursor reaches `sequence` (acks have no reply). */
async function awaitCursor(topic, group, sequence) {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const { group: g } = await groupStats(topic, group);
    if (g && BigInt(g.cursor_sequence) >= sequence) return g;
    if (Date.now() > until) throw new Error(`cursor of ${group} never reached ${sequence}`);
    await new Promise((resolve) => { setTimeout(resolve, 20); });
  }
}

async function main() {
  const topic = `interop-node-${crypto.randomBytes(4).toString('hex')}`;
  const group = 'node';
  console.log(`interop: Node ${process.version}, @grpc/grpc-js ${require('@grpc/grpc-js/package.json').version}, `
    + `broker ${TARGET}${process.env.SLUICE_TLS_CA ? ' over TLS' : ''}${process.env.SLUICE_TOKEN ? ' with a token' : ''}, topic ${topic}`);

  // Publish
  const one = await unary('Publish', { topic, payload: Buffer.from('hello from node'), attributes: { lang: 'js' } });
  check(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(one.message_id),
    'Publish answers a UUIDv7 message_id', one.message_id);
  check(BigInt(one.sequence) > 0n, 'Publish answers a positive sequence', one.sequence);
  check(Math.abs(Number(one.timestamp) - Date.now()) < 5 * 60 * 1000, 'Publish answers a timestamp in Unix ms',
    one.timestamp);

  // BatchPublish
  const batch = await unary('BatchPublish', {
    topic,
    messages: [1, 2, 3].map((i) => ({ payload: Buffer.from(`batch ${i}`), attributes: { i: String(i) } })),
  });
  const seqs = batch.results.map((r) => BigInt(r.sequence));
  check(batch.results.length === 3, 'BatchPublish answers one result per message', batch.results.length);
  check(seqs[0] > BigInt(one.sequence) && seqs[1] === seqs[0] + 1n && seqs[2] === seqs[0] + 2n,
    'BatchPublish stores contiguous sequences in order after the single publish', seqs.join(','));
  check(Number(batch.timestamp) > 0, 'BatchPublish answers one timestamp', batch.timestamp);
  const all = [{ id: one.message_id, seq: BigInt(one.sequence), payload: 'hello from node', attributes: { lang: 'js' } },
    ...batch.results.map((r, i) => ({
      id: r.message_id, seq: seqs[i], payload: `batch ${i + 1}`, attributes: { i: String(i + 1) },
    }))];

  // ListTopics
  const topics = await unary('ListTopics', {});
  check(topics.topics.some((t) => t.name === topic), 'ListTopics lists the new topic');

  // Subscribe with credits
  const first = new Stream({ topic, consumer_group: group, initial_position: 'EARLIEST', mode: 'CONSUMER_GROUP' });
  first.credit(2);
  for (const expected of all.slice(0, 2)) {
    const d = await first.delivery();
    check(d.message_id === expected.id && BigInt(d.sequence) === expected.seq
      && d.payload.toString() === expected.payload && JSON.stringify(d.attributes) === JSON.stringify(expected.attributes)
      && d.delivery_count === 1,
    `2 credits: delivery of sequence ${expected.seq} with its payload, attributes and delivery_count 1`,
    JSON.stringify({ ...d, payload: d.payload.toString() }));
  }
  const early = await first.heartbeatWithoutDelivery(all[3].seq);
  check(early === null, 'no third delivery without credit (a heartbeat reports the newer messages instead)',
    early && early.sequence);
  first.credit(2);
  for (const expected of all.slice(2)) {
    const d = await first.delivery();
    check(BigInt(d.sequence) === expected.seq, `2 more credits: delivery of sequence ${expected.seq}`, d.sequence);
  }

  // Ack (cumulative), then reconnect and resume after it
  first.ack(all[1].id);
  const afterAck = await awaitCursor(topic, group, all[1].seq);
  check(BigInt(afterAck.cursor_sequence) === all[1].seq && afterAck.pending_count === '2',
    'Ack moves the group cursor to the acked sequence; 2 pending', JSON.stringify(afterAck));
  first.cancel();

  const second = new Stream({ topic, consumer_group: group, initial_position: 'EARLIEST', mode: 'CONSUMER_GROUP' });
  second.credit(10);
  for (const expected of all.slice(2)) {
    const d = await second.delivery();
    check(BigInt(d.sequence) === expected.seq && d.delivery_count === 2,
      `after reconnecting: sequence ${expected.seq} comes again with delivery_count 2`,
      `${d.sequence} x${d.delivery_count}`);
  }
  second.ack(all[3].id);
  await awaitCursor(topic, group, all[3].seq);

  // Takeover: a new stream of the group ends the old one
  const third = new Stream({ topic, consumer_group: group, initial_position: 'EARLIEST', mode: 'CONSUMER_GROUP' });
  const ended = await second.ending();
  check(ended.code === 'TAKEN_OVER' && ended.status === grpc.status.ABORTED,
    'a second stream of the group takes over: StreamError TAKEN_OVER, then ABORTED', JSON.stringify(ended));
  third.cancel();

  // Stats
  const { stats, group: g } = await groupStats(topic, group);
  check(stats.total_messages === '4' && BigInt(stats.first_sequence) === all[0].seq
    && BigInt(stats.last_sequence) === all[3].seq,
  'GetTopicStats counts 4 messages from the first to the last sequence', JSON.stringify(stats));
  check(g && BigInt(g.cursor_sequence) === all[3].seq && g.pending_count === '0' && Number(g.last_ack_timestamp) > 0,
    'GetTopicStats shows the group at the last sequence with nothing pending', JSON.stringify(g));

  // Batched deliveries: max_batch asks for DeliveryBatch messages; each delivery still spends one credit
  const batched = new Stream({ topic, mode: 'BROWSE', initial_position: 'EARLIEST', max_batch: 3 });
  batched.credit(4);
  const got = [];
  const sizes = [];
  while (got.length < 4) {
    const item = await batched.next('a DeliveryBatch');
    if (item.end) throw new Error(`the batched stream ended: ${item.end.code} ${item.end.details}`);
    const m = item.message;
    if (m.response === 'delivery') throw new Error('a single MessageDelivery on a stream that asked for batches');
    if (m.response === 'deliveries') {
      sizes.push(m.deliveries.deliveries.length);
      got.push(...m.deliveries.deliveries);
    }
  }
  check(got.map((d) => String(d.sequence)).join(',') === all.map((e) => String(e.seq)).join(',')
    && got.every((d, i) => d.payload.toString() === all[i].payload) && sizes.every((n) => n >= 1 && n <= 3),
  'max_batch 3: the 4 messages arrive in order, intact, in DeliveryBatch messages of at most 3', sizes.join('+'));
  const beyond = await batched.heartbeatWithoutDelivery(all[3].seq);
  check(beyond === null, 'a batching stream sends no more than its credit', beyond && beyond.sequence);
  batched.cancel();

  // A shared group: competing streams, individual acks, Term to the dead-letter topic
  const dlqTopic = `${topic}.dlq`;
  const configured = await unary('ConfigureConsumerGroup', {
    topic, consumer_group: 'workers', mode: 'SHARED', initial_position: 'EARLIEST',
    config: { ack_wait_ms: 60000, dead_letter_topic: dlqTopic },
  });
  check(configured.created === true && configured.mode === 'SHARED' && configured.config.dead_letter_topic === dlqTopic,
    'ConfigureConsumerGroup creates a SHARED group with its dead-letter topic', JSON.stringify(configured));
  const a = new Stream({ topic, consumer_group: 'workers', mode: 'SHARED' });
  const b = new Stream({ topic, consumer_group: 'workers', mode: 'SHARED' });
  a.credit(1);
  const da = await a.delivery();
  b.credit(1);
  const db = await b.delivery();
  check(da.message_id !== db.message_id && da.delivery_count === 1 && db.delivery_count === 1,
    'two SHARED streams of one group get different messages', `${da.sequence} ${db.sequence}`);
  a.ack(da.message_id);
  a.call.write({ sync: { id: 42 } });
  const syncedId = await a.synced();
  const { group: afterSync } = await groupStats(topic, 'workers');
  check(String(syncedId) === '42' && afterSync && afterSync.in_flight === '1',
    'AckSync is answered once the ack is stored: only the other stream\'s message is still in flight',
    `${syncedId} ${JSON.stringify(afterSync)}`);
  b.call.write({ term: { message_id: db.message_id, reason: 'interop says no' } });
  const dlq = new Stream({ topic: dlqTopic, mode: 'BROWSE', initial_position: 'EARLIEST' });
  dlq.credit(1);
  const dead = await dlq.delivery();
  check(dead.payload.toString() === db.payload.toString() && dead.attributes['sluice.dlq.reason'] === 'rejected'
    && dead.attributes['sluice.dlq.detail'] === 'interop says no' && dead.attributes['sluice.dlq.message_id'] === db.message_id,
  'Term moves the message to the dead-letter topic with its sluice.dlq attributes', JSON.stringify(dead.attributes));
  const { group: shared } = await groupStats(topic, 'workers');
  check(shared && shared.mode === 'SHARED' && shared.dead_lettered === '1',
    'GetTopicStats shows the SHARED mode and the dead-lettered count', JSON.stringify(shared));
  for (const s of [a, b, dlq]) s.cancel();
  await unary('DeleteTopic', { topic: dlqTopic });

  // A refused name
  const refused = await unary('Publish', { topic: 'not a topic', payload: Buffer.from('x') }).then(() => null, (e) => e);
  check(refused && refused.code === grpc.status.INVALID_ARGUMENT && /topic name/.test(refused.details),
    'an invalid topic name is INVALID_ARGUMENT naming the rule', refused && `${refused.code} ${refused.details}`);

  const deleted = await unary('DeleteTopic', { topic });
  check(deleted.deleted === true, 'DeleteTopic removes the topic');
}

const guard = setTimeout(() => {
  console.error('interop: not ok - gave up after 120 s');
  process.exit(1);
}, 120000);
guard.unref();

main().then(() => {
  console.log(`interop: all ${passed} checks passed against ${TARGET}`);
  client.close();
  process.exit(0);
}, (err) => {
  console.error(`interop: not ok ${passed + 1} - ${err.message}`);
  client.close();
  process.exit(1);
});
