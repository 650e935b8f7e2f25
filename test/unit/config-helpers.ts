import { expect } from 'vitest';
import { ConfigError } from '../../src/common/errors';
import { loadConfigText } from '../../src/config/index';

/** The message of the ConfigError the text raises (FILE:LINE: message); a config error exits 10. */
export function errorOf(text: string): string {
  try {
    loadConfigText(text, 'test.conf');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(10);
    return (err as ConfigError).message;
  }
  throw new Error('no error raised');
}
