#!/usr/bin/env node
// tools/schema-check/schema-check.mjs -- checks the machine-readable contract
// in schemas/ and real messages against it.  Owns: validating
// schemas/asyncapi.yaml with the official AsyncAPI parser (and compiling the
// JSON Schemas its messages reference), compiling the JSON Schema files as
// draft 2020-12 (ajv/dist/2020), and validating intents and result events
// (raw, or as `intentctl tail --json` prints them) against those schemas.
// Why: the schemas are the normative copy of the wire contract; this is how
// the test suite (tests/test_schemas.sh) proves they are well-formed and that
// what the worker really publishes matches them.
//
// usage: schema-check.mjs asyncapi FILE
//        schema-check.mjs compile FILE...
//        schema-check.mjs intents [--as bot|user] [FILE...]
//        schema-check.mjs events [--asyncapi FILE] [FILE...]
// Exit: 0 all valid; 1 something invalid; 2 usage or unreadable input.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SCHEMAS = process.env.SCHEMAS_DIR || path.resolve(HERE, '../../schemas');
const FORMAT_2020 = 'application/schema+json;version=2020-12';
const TOPICS = {
  bot: process.env.TOPIC_INTENTS_BOT || 'orders.intents.bot',
  user: process.env.TOPIC_INTENTS_USER || 'orders.intents.user',
  fills: process.env.TOPIC_FILLS || 'orders.fills',
  rej: process.env.TOPIC_REJECTIONS || 'orders.rejections',
  dlq: process.env.TOPIC_DLQ || 'orders.dlq',
};
// What `intentctl tail --json` adds to each event (producers/intentctl/tail.c).
const TAIL_FIELDS = ['_topic', '_partition', '_offset', '_key', '_timestamp', '_headers', '_value'];

class UsageError extends Error {}

// ---------------------------------------------------------------- ajv

function newAjv2020() {
  // strict: unknown keywords, ignored "format"s and the like are errors, so a
  // typo in a schema cannot silently turn a rule off.
  const ajv = new Ajv2020({ strict: true, strictTypes: false, strictRequired: false,
                            allErrors: true, allowUnionTypes: true });
  addFormats(ajv);
  return ajv;
}

// The JSON Schema files of a folder, loaded into one ajv so that their $ids
// and relative $refs resolve; file name -> $id.
function loadSchemaDir(ajv, dir) {
  const ids = new Map();
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const file = path.join(dir, name);
    const schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    const id = schema.$id || `file://${file}`;
    ajv.addSchema(schema, id);
    ids.set(name, id);
  }
  return ids;
}

function ajvErrors(errors) {
  return (errors || []).map((e) => {
    const at = e.instancePath || '(root)';
    const extra = e.params && e.params.additionalProperty ? ` '${e.params.additionalProperty}'`
      : e.params && e.params.missingProperty ? ` '${e.params.missingProperty}'` : '';
    return `${at} ${e.message}${extra} [${e.schemaPath}]`;
  });
}

// ---------------------------------------------------------------- compile

function cmdCompile(files) {
  if (!files.length) throw new UsageError('compile wants one or more schema files');
  let bad = 0;
  const fail = (file, why, msgs = []) => {
    bad++;
    console.log(`INVALID ${file}: ${why}`);
    for (const m of msgs) console.log(`    ${m}`);
  };
  for (const file of files) {
    let schema;
    try {
      schema = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      fail(file, `not readable JSON: ${e.message}`);
      continue;
    }
    if (schema.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
      fail(file, `$schema is ${JSON.stringify(schema.$schema)}, not draft 2020-12`);
      continue;
    }
    const ajv = newAjv2020();
    if (!ajv.validateSchema(schema)) {
      fail(file, 'not a valid 2020-12 schema (against the meta-schema):', ajvErrors(ajv.errors));
      continue;
    }
    // Its siblings, for cross-file $refs (not itself: compile adds it).
    const abs = path.resolve(file);
    for (const name of fs.readdirSync(path.dirname(abs)).filter((n) => n.endsWith('.json'))) {
      const other = path.join(path.dirname(abs), name);
      if (other === abs) continue;
      try {
        const s = JSON.parse(fs.readFileSync(other, 'utf8'));
        if (s.$id && s.$id !== schema.$id) ajv.addSchema(s, s.$id);
      } catch { /* that file's own check reports it */ }
    }
    try {
      ajv.compile(schema);
    } catch (e) {
      fail(file, `does not compile: ${e.message}`);
      continue;
    }
    const defs = Object.keys(schema.$defs || {});
    console.log(`ok ${file}: compiles (draft 2020-12, strict)${defs.length ? `; $defs: ${defs.join(', ')}` : ''}`);
  }
  return bad ? 1 : 0;
}

// ---------------------------------------------------------------- asyncapi

const SEVERITY = ['error', 'warning', 'info', 'hint'];

// Parses FILE with the official parser; returns {document, errors, notes}.
async function parseAsyncapi(file) {
  const parser = new Parser();
  // AsyncAPI 3 lets a payload name its schema format; the parser knows
  // draft-07 but not 2020-12.  Registering the format keeps the parser from
  // warning about it; the payloads are compiled with ajv below.
  parser.registerSchemaParser({
    getMimeTypes: () => [FORMAT_2020],
    validate: async () => [],
    parse: async (input) => input.data,
  });
  const abs = path.resolve(file);
  const { document, diagnostics } = await fromFile(parser, abs).parse();
  const errors = [];
  const notes = [];
  for (const d of diagnostics) {
    const line = `${SEVERITY[d.severity] || d.severity} ${d.code}: ${d.message} at ${d.path.join('.') || '(root)'}` +
      (d.range ? ` (line ${d.range.start.line + 1})` : '');
    (d.severity === DiagnosticSeverity.Error ? errors : notes).push(line);
  }
  return { document, errors, notes };
}

// The payloads of the document's messages that reference 2020-12 JSON Schema
// files: each $ref must name a schema (and fragment) ajv can compile.
function checkPayloadRefs(file, errors) {
  const raw = yaml.load(fs.readFileSync(file, 'utf8'));
  const messages = (raw.components && raw.components.messages) || {};
  const dir = path.dirname(path.resolve(file));
  const ajv = newAjv2020();
  const ids = loadSchemaDir(ajv, dir);
  const checked = [];
  for (const [name, msg] of Object.entries(messages)) {
    const p = msg && msg.payload;
    if (!p || p.schemaFormat !== FORMAT_2020) continue;
    const ref = p.schema && p.schema.$ref;
    if (typeof ref !== 'string') {
      errors.push(`error payload-ref: message ${name}: a ${FORMAT_2020} payload must be a $ref to a schema file`);
      continue;
    }
    const [rel, frag = ''] = ref.split('#');
    const base = path.basename(rel);
    if (!ids.has(base) || path.resolve(dir, rel) !== path.join(dir, base)) {
      errors.push(`error payload-ref: message ${name}: ${ref} names no schema file in ${dir}`);
      continue;
    }
    try {
      const v = ajv.getSchema(`${ids.get(base)}${frag ? `#${frag}` : ''}`);
      if (!v) throw new Error('no such schema or fragment');
      checked.push(`${name} -> ${ref}`);
      // The parser does not check examples against custom-format payloads.
      for (const [i, ex] of (msg.examples || []).entries()) {
        if (ex && 'payload' in ex && !v(ex.payload)) {
          errors.push(`error example: message ${name}, example ${ex.name || i}: ` +
                      ajvErrors(v.errors).join('; '));
        }
      }
    } catch (e) {
      errors.push(`error payload-ref: message ${name}: ${ref} does not compile: ${e.message}`);
    }
  }
  return checked;
}

async function cmdAsyncapi(args) {
  if (args.length !== 1) throw new UsageError('asyncapi wants one file');
  const file = args[0];
  if (!fs.existsSync(file)) throw new UsageError(`${file}: no such file`);
  const { document, errors, notes } = await parseAsyncapi(file);
  let checked = [];
  if (document) {
    checked = checkPayloadRefs(file, errors);
    const ch = document.channels().all().map((c) => c.address());
    const ops = document.operations().all().length;
    const msgs = document.allMessages().all().length;
    console.log(`parsed ${file}: AsyncAPI ${document.version()}, channels ${ch.join(', ')}; ${ops} operations, ${msgs} messages`);
    for (const c of checked) console.log(`  payload ${c}: compiles (2020-12)`);
  } else if (!errors.length) {
    errors.push('error: the parser returned no document');
  }
  for (const n of notes) console.log(`  note: ${n}`);
  for (const e of errors) console.log(`  ${e}`);
  console.log(errors.length ? `INVALID ${file}: ${errors.length} error(s)` : `ok ${file}: valid`);
  return errors.length ? 1 : 0;
}

// ---------------------------------------------------------------- messages

// Yields {where, value} for each JSON value of the inputs: JSON lines, or a
// file holding one (possibly multi-line) JSON document.
function* readItems(files) {
  const inputs = files.length ? files : ['-'];
  for (const f of inputs) {
    const name = f === '-' ? 'stdin' : f;
    let text;
    try {
      text = fs.readFileSync(f === '-' ? 0 : f, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${name}: ${e.message}`);
    }
    if (!text.trim()) continue;
    try {
      const whole = JSON.parse(text);
      if (!text.trim().includes('\n') || !Array.isArray(whole)) {
        yield { where: name, value: whole };
        continue;
      }
    } catch { /* JSON lines */ }
    const lines = text.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      const where = `${name}:${i + 1}`;
      try {
        yield { where, value: JSON.parse(lines[i]) };
      } catch (e) {
        yield { where, value: undefined, parseError: e.message };
      }
    }
  }
}

function isRecord(v) { return v && typeof v === 'object' && !Array.isArray(v) && '_topic' in v; }

// A tail record: its position, and the event without tail's fields.
function unwrap(item) {
  const v = item.value;
  if (!isRecord(v)) return { where: item.where, event: v, record: null };
  const event = {};
  for (const [k, x] of Object.entries(v)) if (!TAIL_FIELDS.includes(k)) event[k] = x;
  return { where: `${v._topic}[${v._partition}]@${v._offset} (${item.where})`, event, record: v };
}

function parseFlags(args, spec) {
  const flags = {};
  const rest = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a.startsWith('--')) {
      const [k, inline] = a.slice(2).split('=', 2);
      if (!(k in spec)) throw new UsageError(`unknown option --${k}`);
      const val = inline !== undefined ? inline : args[++i];
      if (val === undefined) throw new UsageError(`--${k} needs a value`);
      if (spec[k] && !spec[k].includes(val)) throw new UsageError(`--${k} wants ${spec[k].join('|')}`);
      flags[k] = val;
    } else {
      rest.push(a);
    }
  }
  return { flags, rest };
}

function report(counts, invalid, what) {
  const parts = Object.entries(counts).map(([k, n]) => `${k}=${n}`);
  console.log(`checked ${what}: ${parts.join(' ') || 'nothing'} invalid=${invalid}`);
  return invalid ? 1 : 0;
}

function cmdIntents(args) {
  const { flags, rest } = parseFlags(args, { as: ['bot', 'user'] });
  const ajv = newAjv2020();
  const ids = loadSchemaDir(ajv, SCHEMAS);
  const id = ids.get('intent.schema.json');
  if (!id) throw new UsageError(`no intent.schema.json in ${SCHEMAS}`);
  const v = { bot: ajv.getSchema(`${id}#/$defs/bot_intent`), user: ajv.getSchema(`${id}#/$defs/user_intent`) };
  const counts = { bot_intent: 0, user_intent: 0 };
  let invalid = 0;
  for (const item of readItems(rest)) {
    const { where, event, record } = unwrap(item);
    let kind = flags.as;
    if (record) {
      if (record._topic === TOPICS.bot) kind = 'bot';
      else if (record._topic === TOPICS.user) kind = 'user';
      else {
        console.log(`INVALID ${where}: not an intent topic`);
        invalid++;
        continue;
      }
    }
    if (!kind) throw new UsageError(`${where}: not a tail record; say --as bot or --as user`);
    counts[`${kind}_intent`]++;
    if (item.parseError || (record && '_value' in record)) {
      console.log(`INVALID ${where}: not a JSON object${item.parseError ? `: ${item.parseError}` : ''}`);
      invalid++;
    } else if (!v[kind](event)) {
      invalid++;
      console.log(`INVALID ${where} ${kind}_intent ${event && event.intent_id ? event.intent_id : ''}`.trimEnd());
      for (const m of ajvErrors(v[kind].errors)) console.log(`    ${m}`);
    }
  }
  return report(counts, invalid, 'intents');
}

async function cmdEvents(args) {
  const { flags, rest } = parseFlags(args, { asyncapi: null });
  const ajv = newAjv2020();
  const ids = loadSchemaDir(ajv, SCHEMAS);
  const bySchema = {};
  for (const name of ['order-fill.schema.json', 'order-rejection.schema.json']) {
    const id = ids.get(name);
    if (!id) throw new UsageError(`no ${name} in ${SCHEMAS}`);
    const fn = ajv.getSchema(id);
    bySchema[fn.schema.title] = fn; // the title is the schema name: order-fill/v1 ...
  }
  const topicOf = { 'order-fill/v1': TOPICS.fills, 'order-rejection/v1': TOPICS.rej };
  // DLQ records: their headers against the AsyncAPI document's deadLetter headers.
  let dlqHeaders = null;
  if (flags.asyncapi) {
    const raw = yaml.load(fs.readFileSync(flags.asyncapi, 'utf8'));
    const h = raw?.components?.messages?.deadLetter?.headers;
    if (!h) throw new UsageError(`${flags.asyncapi}: no components.messages.deadLetter.headers`);
    const draft7 = new Ajv({ strict: false, allErrors: true }); // AsyncAPI schemas are draft-07 based
    dlqHeaders = draft7.compile(h);
  }
  const counts = {};
  for (const s of Object.keys(bySchema)) counts[s] = 0;
  if (dlqHeaders) counts['dead-letter'] = 0;
  let invalid = 0;
  const bad = (where, what, msgs = []) => {
    invalid++;
    console.log(`INVALID ${where}${what ? ` ${what}` : ''}`);
    for (const m of msgs) console.log(`    ${m}`);
  };
  for (const item of readItems(rest)) {
    const { where, event, record } = unwrap(item);
    if (record && record._topic === TOPICS.dlq) {
      if (!dlqHeaders) continue;
      counts['dead-letter']++;
      if (!dlqHeaders(record._headers || {})) bad(where, 'dead-letter headers', ajvErrors(dlqHeaders.errors));
      continue;
    }
    if (item.parseError) { bad(where, `not JSON: ${item.parseError}`); continue; }
    if (record && '_value' in record) { bad(where, 'not a JSON object'); continue; }
    const name = event && typeof event === 'object' ? event.schema : undefined;
    const validate = bySchema[name];
    if (!validate) {
      bad(where, `unknown schema ${JSON.stringify(name)} (want ${Object.keys(bySchema).join(' or ')})`);
      continue;
    }
    counts[name]++;
    const id = event.event_id || '(no event_id)';
    if (record && record._topic !== topicOf[name]) {
      bad(where, `${id}: a ${name} event on ${record._topic}, not ${topicOf[name]}`);
      continue;
    }
    if (!validate(event)) bad(where, `${name} ${id}`, ajvErrors(validate.errors));
  }
  return report(counts, invalid, 'events');
}

// ---------------------------------------------------------------- main

const USAGE = `usage: schema-check.mjs asyncapi FILE          parse + validate an AsyncAPI document
       schema-check.mjs compile FILE...        each file a valid JSON Schema 2020-12 (ajv, strict)
       schema-check.mjs intents [--as bot|user] [FILE...]
                                  intents (JSON lines or one document per file; stdin without
                                  FILE) against intent.schema.json#/$defs/bot_intent or
                                  user_intent: by _topic for 'intentctl tail --json' records,
                                  else by --as
       schema-check.mjs events [--asyncapi FILE] [FILE...]
                                  result events (raw, or 'intentctl tail --json' records) against
                                  the schema their "schema" field names; with --asyncapi, DLQ
                                  records' headers against its deadLetter message headers
Schemas are read from ${SCHEMAS} (SCHEMAS_DIR). Exit: 0 valid, 1 invalid, 2 usage.
`;

async function main(argv) {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case 'asyncapi': return cmdAsyncapi(args);
    case 'compile': return cmdCompile(args);
    case 'intents': return cmdIntents(args);
    case 'events': return cmdEvents(args);
    case '-h': case '--help': case 'help': process.stdout.write(USAGE); return 0;
    default: throw new UsageError(cmd ? `unknown command '${cmd}'` : 'no command');
  }
}

main(process.argv.slice(2)).then((rc) => { process.exitCode = rc; }, (e) => {
  if (e instanceof UsageError) {
    process.stderr.write(`schema-check: ${e.message}\n${USAGE}`);
    process.exitCode = 2;
  } else {
    process.stderr.write(`schema-check: ${e.stack || e}\n`);
    process.exitCode = 2;
  }
});
