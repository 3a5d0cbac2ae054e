// A texter's client for Baton, written from docs/api.md and docs/asyncapi.yaml alone, with the
// `nats` npm package: join a campaign by its invite token, take a batch, read the first
// conversation, and send its initial message. Prints one JSON line of what happened.
//
//   NATS_URL=nats://127.0.0.1:4222 BATON_TOKEN=<the texter's JWT> INVITE_TOKEN=<token> \
//     node examples/js/texter.mjs
//
// Subject names come from docs/asyncapi.yaml (a JSON document), so this client and the docs
// cannot drift apart: a subject renamed in the catalogue is renamed here at the next `make docs`.
import { readFileSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { connect, headers as natsHeaders, JSONCodec } from "nats";

const asyncapi = JSON.parse(
  readFileSync(new URL("../../docs/asyncapi.yaml", import.meta.url), "utf8").replace(/^#.*\n/, ""),
);
// Channel keys are the subjects with `_` for `.`; their `address` is the subject itself.
const subject = (key) => {
  const channel = asyncapi.channels[key];
  if (!channel) throw new Error(`docs/asyncapi.yaml has no channel ${key}`);
  return channel.address;
};

const json = JSONCodec();
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name}`);
  return value;
};

class Refused extends Error {
  constructor(error) {
    super(`${error.code}: ${error.message}`);
    this.code = error.code;
    this.details = error.details ?? {};
  }
}

// One request: the envelope's `data`, or a Refused carrying the envelope's error code.
async function call(nc, key, request, timeoutMs = 10_000) {
  const h = natsHeaders();
  h.set("Authorization", `Bearer ${env("BATON_TOKEN")}`);
  // The service starts nothing for a caller who stopped waiting (docs/api.md, Conventions).
  h.set("Baton-Deadline", String(Date.now() + timeoutMs));
  const reply = await nc.request(subject(key), json.encode(request), { timeout: timeoutMs, headers: h });
  const envelope = json.decode(reply.data);
  if (!envelope.ok) throw new Refused(envelope.error);
  return envelope.data;
}

const nc = await connect({ servers: env("NATS_URL"), name: "baton-js-example" });
try {
  const joined = await call(nc, "baton_assign_join", { token: env("INVITE_TOKEN") });
  if (joined.conversation_ids.length === 0) {
    // e.g. none_textable_now, with joined.next_opening saying when conversations open
    throw new Error(`joined, but no first batch: ${joined.first_batch_error}`);
  }
  const page = await call(nc, "baton_query_conversations", {
    campaign_id: joined.campaign_id,
    status: "not_started",
    limit: 10,
  });
  const first = page.conversations[0];
  const body = `Hi ${first.first_name}, it's a volunteer with the campaign. Can we count on you?`;
  const send = { conversation_id: first.conversation_id, body, idempotency_key: randomUUID() };
  const sent = await call(nc, "baton_send_initial", send);
  // The same idempotency key again: the first result, and nothing sent twice.
  const again = await call(nc, "baton_send_initial", send);
  let refusal = null;
  try {
    await call(nc, "baton_send_initial", { ...send, idempotency_key: randomUUID() });
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    refusal = error.code;
  }
  console.log(JSON.stringify({
    campaign_id: joined.campaign_id,
    batch: joined.conversation_ids,
    phone: first.phone,
    sent,
    repeat_duplicate: again.duplicate,
    repeat_message_id: again.message_id,
    second_initial_refused_with: refusal,
  }));
} finally {
  await nc.close();
}
