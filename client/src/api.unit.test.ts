import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLIENT_TYPES, generateClientTypes } from '../../scripts/client-types';

describe('the typed client', () => {
  it('holds the types the merged OpenAPI document makes: `npm run client` after an API change', async () => {
    expect(readFileSync(CLIENT_TYPES, 'utf8')).toBe(await generateClientTypes());
  });
});
