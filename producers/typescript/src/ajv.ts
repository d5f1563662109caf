// src/ajv.ts -- owns the one JSON Schema 2020-12 validator of the package
// (ajv), with the "date-time" format of the schemas, shared by the event guard
// (guard.ts) and the intent validator (validate.ts).  Why one: the format's
// definition and ajv's options must be the same for what is read and what is sent.
import { Ajv2020 } from 'ajv/dist/2020.js'

// RFC 3339 date-time (the "date-time" format of the schemas).
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/

export const ajv = new Ajv2020({ allErrors: true, strict: false })
ajv.addFormat('date-time', RFC3339)
