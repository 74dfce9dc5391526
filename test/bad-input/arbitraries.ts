import fc from 'fast-check';

/**
 * Bad input, generated (design §3, §6, §7): what the bad-input suites send.
 * No fixed seed: each run explores new inputs, and fast-check prints the seed
 * and the shrunk counterexample of a failure.
 */

/** express.json's limit '100kb': the bytes library counts 1 kB as 1,024 bytes. */
export const BODY_LIMIT_BYTES = 100 * 1024;

const charIn = (from: number, to: number) =>
  fc.integer({ min: from, max: to }).map((code) => String.fromCharCode(code));
/** Printable ASCII, space included. */
export const printable = charIn(0x20, 0x7e);
/**
 * Characters of one UTF-16 unit and 1 to 3 UTF-8 bytes, none of them blank:
 * `trim()` keeps every one, so a string's length is the length the schema sees.
 */
const wordChar = fc.constantFrom('a', 'Z', '7', '-', '_', '!', 'é', 'ß', 'ж', '中', '€');
export const text = (minLength: number, maxLength: number) =>
  fc.string({ unit: wordChar, minLength, maxLength });

/** Names a client might slip in, and random ones. */
export const fieldName = fc.oneof(
  fc.constantFrom(
    'role',
    'createdBy',
    'revision',
    'id',
    'deleted',
    '__proto__',
    'constructor',
    'toString',
    'Title',
    'title ',
    'a.b',
    '0',
  ),
  fc.string({ unit: printable, minLength: 1, maxLength: 12 }),
);
/** One to three fields none of which is in `known`. */
export const unknownFields = (known: readonly string[]) =>
  fc.dictionary(
    fieldName.filter((name) => !known.includes(name)),
    fc.jsonValue({ maxDepth: 2 }),
    { minKeys: 1, maxKeys: 3 },
  );

const isJsonObjectOrArray = (raw: string) => {
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'object' && value !== null;
  } catch {
    return false;
  }
};
/**
 * Bodies body-parser's strict JSON refuses: cut-off or mangled JSON, random
 * text, and JSON that is neither an object nor an array.
 */
export const malformedJson = fc
  .oneof(
    fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.nat()).map(([value, cut]) => {
      const json = JSON.stringify(value);
      return json.slice(0, cut % Math.max(json.length, 1));
    }),
    fc.string({ unit: printable, minLength: 1, maxLength: 80 }),
    fc
      .oneof(fc.string(), fc.double(), fc.boolean(), fc.constant(null))
      .map((v) => JSON.stringify(v)),
    fc.constantFrom('{', '[', '{"title":', "{'title':'x'}", '{"title":"x",}', '{title:"x"}', 'NaN'),
  )
  .filter((raw) => raw.trim() !== '' && !isJsonObjectOrArray(raw));

const JSON_MEDIA_TYPE = /^application\/json\s*(?:;|$)/i;
/** Media types other than application/json (with or without parameters). */
export const nonJsonMediaType = fc
  .oneof(
    fc.constantFrom(
      'text/plain',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/xml',
      'application/jsonx',
      'application/json-patch+json',
      'application/problem+json',
      'application/ld+json',
      'json',
      '*/*',
      'application/*',
    ),
    fc.string({ unit: printable, minLength: 1, maxLength: 40 }),
  )
  .map((type) => type.trim())
  .filter((type) => type !== '' && !JSON_MEDIA_TYPE.test(type));

/** A path segment that is not a uuid: random text (encoded), near-uuids and broken escapes. */
export const malformedIdSegment = fc
  .oneof(
    fc.string({ unit: printable, minLength: 1, maxLength: 60 }).map(encodeURIComponent),
    fc.uuid({ version: 7 }).map((id) => id.slice(0, -1)),
    fc.uuid({ version: 7 }).map((id) => `${id}0`),
    fc.uuid({ version: 7 }).map((id) => id.replaceAll('-', '')),
    fc.uuid({ version: 7 }).map((id) => encodeURIComponent(` ${id}`)),
    fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', 'null', 'undefined', '0', '-1', 'me'),
  )
  .filter((segment) => {
    try {
      return !['.', '..'].includes(decodeURIComponent(segment));
    } catch {
      return true;
    }
  });
/** What a malformed id is answered with: 404 (no such resource), 400 for a broken escape. */
export const malformedIdStatus = (segment: string) => {
  try {
    decodeURIComponent(segment);
    return 404;
  } catch {
    return 400;
  }
};

/** Header values fetch can send (no CR, LF or NUL; it strips outer blanks). */
export const headerValue = fc.oneof(
  fc.string({ unit: printable, maxLength: 40 }),
  fc.string({ unit: charIn(0x20, 0xff), maxLength: 20 }).filter((v) => !/[\x7f-\x9f]/.test(v)),
);
export const sentHeader = (value: string) => value.replace(/^[ \t]+|[ \t]+$/g, '');

/** If-Match values that are not an ETag this API sends (`"3"`, `W/"3"`) nor `*`. */
export const malformedIfMatch = fc
  .oneof(
    headerValue,
    fc.constantFrom('"abc"', '"-1"', '"1.5"', `"${'9'.repeat(16)}"`, 'W/', '"1", "2"', '**'),
  )
  .filter((value) => {
    const sent = sentHeader(value);
    return sent !== '*' && !/^(?:W\/)?"?\d{1,15}"?$/.test(sent);
  });

/** Idempotency-Keys outside 1 to 255 visible ASCII characters. */
export const malformedIdempotencyKey = fc
  .oneof(
    fc.constant(''),
    fc.string({ unit: charIn(0x21, 0x7e), minLength: 256, maxLength: 400 }),
    fc
      .tuple(fc.string({ unit: charIn(0x21, 0x7e), minLength: 1, maxLength: 20 }), fc.string())
      .map(([a, b]) => `${a} ${b}x`),
    fc
      .tuple(fc.string({ maxLength: 10 }), charIn(0xa0, 0xff))
      .map(([a, latin1]) => `k${a}${latin1}`),
  )
  .filter((value) => !/^[\x21-\x7e]{1,255}$/.test(sentHeader(value)));

/** A body over the limit: one big field, or a small body padded with blanks. */
export const oversizedBody = fc
  .record({
    bytes: fc.integer({ min: BODY_LIMIT_BYTES + 1, max: 3 * BODY_LIMIT_BYTES }),
    shape: fc.constantFrom('field', 'padding'),
    filler: fc.constantFrom('x', 'é', '中'),
    chunked: fc.boolean(),
  })
  .map(({ bytes, shape, filler, chunked }) => {
    const head = shape === 'field' ? '{"description":"' : '{"title":"t"';
    const tail = shape === 'field' ? '"}' : '}';
    const room = bytes - Buffer.byteLength(head + tail);
    const fill =
      shape === 'field'
        ? filler.repeat(Math.ceil(room / Buffer.byteLength(filler)))
        : ' '.repeat(room);
    return { body: head + fill + tail, chunked };
  });

export const priority = fc.constantFrom('low', 'medium', 'high', 'urgent');
/** Fields valid on a create or a change, any subset. */
export const validTaskFields = fc.record(
  {
    description: text(0, 200),
    priority,
    dueDate: fc.constantFrom('2026-12-31', '2028-02-29', null),
    labels: fc.uniqueArray(text(1, 40), { maxLength: 20 }),
  },
  { requiredKeys: [] },
);
/** One field over its limit (design §3), and the error path that must name it. */
export const taskFieldViolation = fc.oneof(
  text(201, 260).map((title) => ({ fields: { title }, path: 'title' })),
  text(10_001, 10_200).map((description) => ({ fields: { description }, path: 'description' })),
  fc
    .array(text(1, 40), { minLength: 21, maxLength: 40 })
    .map((labels) => ({ fields: { labels }, path: 'labels' })),
  fc
    .tuple(fc.array(text(1, 40), { maxLength: 19 }), text(41, 80), fc.nat())
    .map(([labels, long, at]) => {
      const index = at % (labels.length + 1);
      const withLong = [...labels.slice(0, index), long, ...labels.slice(index)];
      return { fields: { labels: withLong }, path: `labels.${index}` };
    }),
);
export const TASK_FIELDS = [
  'title',
  'description',
  'status',
  'assigneeId',
  'priority',
  'dueDate',
  'labels',
] as const;

export const LIST_PARAMS = [
  'status',
  'assigneeId',
  'createdBy',
  'label',
  'priority',
  'q',
  'dueBefore',
  'dueAfter',
  'sort',
  'limit',
  'cursor',
];
/** A query string from name/value pairs, each part percent-encoded. */
export const queryString = (params: Record<string, string>) =>
  Object.entries(params)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&');

/** `limit` values outside 1 to 200 or not an integer. */
export const badLimit = fc.oneof(
  fc.integer({ min: 201, max: 2 ** 40 }).map(String),
  fc.integer({ min: -(2 ** 40), max: 0 }).map(String),
  fc.integer({ min: 1, max: 199 }).map((n) => `${n}.5`),
  fc.string({ unit: printable, maxLength: 10 }).map((s) => `x${s}`),
  fc.constantFrom('', '1e3', '0x100', 'Infinity', 'NaN', '201', '-0.5'),
);
