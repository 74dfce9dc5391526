import { config } from 'zod';

// The board's CSP has no 'unsafe-eval'. zod compiles object parsers with
// `new Function` unless it is jitless, and probes whether it may as the
// contracts make their schemas, which the browser reports as a CSP violation.
// So this runs first: it is main.ts's first import, before the contracts load.
config({ jitless: true });
