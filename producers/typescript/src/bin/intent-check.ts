#!/usr/bin/env node
// src/bin/intent-check.ts -- owns the intent-check command: the package's
// verdict on intents given as JSON lines, one JSON line out per intent line in.
// Why: the verdicts can be compared, line by line, with the worker's own
// (`intentctl send --dry-run --json --stdin`), which is how the ts_intent_check
// test keeps this package's validator equal to worker/intent.c.
import { checkIntentMessage, type IntentSource, type Verdict } from '../validate.js'

const USAGE = `usage: intent-check --source bot|user [--no-numbers]

Reads order intents or cancel requests as JSON lines on stdin (one per line,
read byte for byte; blank lines are skipped, as intentctl send --stdin does)
and prints one JSON line per intent:
  {"valid": true}
  {"valid": false, "fields": ["qty", ...], "errors": [{"field": ..., "message": ...}],
   "reason": "validation_failed"}
"fields" are the offending top-level fields as the worker names them; for a
line that is no intent at all "reason" is its orders.dlq reason (too_large,
not_json, not_object, no_intent_id), with "message", and no fields.

  --source S     bot (orders.intents.bot: bot_id required) or user
                 (orders.intents.user: no bot_id)
  --no-numbers   refuse decimals given as JSON numbers, as IntentProducer does
                 (the worker takes them; by default so does this command)
  -h, --help     this text

Exit: 0 every intent valid; 1 some invalid; 2 usage.`

function usage(msg: string): never {
  process.stderr.write(`intent-check: ${msg}\n${USAGE}\n`)
  process.exit(2)
}

function parseArgs(argv: string[]): { source: IntentSource; numbers: boolean } {
  let source: IntentSource | null = null
  let numbers = true
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE + '\n')
      process.exit(0)
    } else if (arg === '--source' || arg.startsWith('--source=')) {
      const v = arg === '--source' ? argv[++i] : arg.slice('--source='.length)
      if (v !== 'bot' && v !== 'user') usage(`--source must be bot or user, not ${JSON.stringify(v ?? null)}`)
      source = v
    } else if (arg === '--no-numbers') {
      numbers = false
    } else {
      usage(`unknown argument ${arg}`)
    }
  }
  if (!source) usage('--source bot|user is required')
  return { source, numbers }
}

// Every line of stdin as bytes, without its "\n" (and a "\r" before it).
async function* lines(): AsyncGenerator<Buffer> {
  let rest = Buffer.alloc(0)
  for await (const chunk of process.stdin) {
    rest = Buffer.concat([rest, chunk as Buffer])
    let nl: number
    while ((nl = rest.indexOf(10)) >= 0) {
      yield rest.subarray(0, nl)
      rest = rest.subarray(nl + 1)
    }
  }
  if (rest.length > 0) yield rest
}

function output(v: Verdict): string {
  if (v.valid) return JSON.stringify({ valid: true })
  return JSON.stringify({
    valid: false,
    fields: v.fields,
    errors: v.errors,
    reason: v.reason,
    ...(v.message !== undefined ? { message: v.message } : {}),
  })
}

async function main(): Promise<number> {
  const { source, numbers } = parseArgs(process.argv.slice(2))
  let invalid = 0
  for await (let line of lines()) {
    if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1)
    if (/^[ \t\r]*$/.test(line.toString('latin1'))) continue
    const verdict = checkIntentMessage(line, source, { decimals: numbers ? 'worker' : 'strings' })
    if (!verdict.valid) invalid++
    process.stdout.write(output(verdict) + '\n')
  }
  return invalid > 0 ? 1 : 0
}

main().then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`intent-check: ${(e as Error).stack ?? String(e)}\n`)
    process.exitCode = 2
  },
)
