import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';

const capture = () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { logger: createLogger({ name: 't', level: 'info', destination }), lines };
};

describe('logger redaction', () => {
  it('never writes a password, a token or the arguments of a failed Redis command', () => {
    const { logger, lines } = capture();
    const redisError = Object.assign(new Error('OOM command not allowed'), {
      command: {
        name: 'evalsha',
        args: ['sha', '4', '$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234'],
      },
    });
    logger.error({ err: redisError }, 'unexpected error');
    logger.info(
      { password: 'hunter22', body: { password: 'hunter22', token: 'eyJhbGciOi' } },
      'input',
    );
    logger.info({ headers: { authorization: 'Bearer eyJhbGciOi' } }, 'headers');
    const all = lines.join('\n');
    expect(all).toContain('OOM command not allowed');
    expect(all).not.toContain('$2b$');
    expect(all).not.toContain('hunter22');
    expect(all).not.toContain('eyJhbGciOi');
  });
});
