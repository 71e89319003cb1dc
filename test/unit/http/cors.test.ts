import { describe, expect, it } from 'vitest';
import type { CorsConfig } from '../../../src/config/types.js';
import { credentialsAllowed, withheldCredentials } from '../../../src/http/cors.js';

function cors(allowOrigins: CorsConfig['allowOrigins'], allowCredentials: boolean): CorsConfig {
  return { allowOrigins, allowCredentials, maxAgeSeconds: 0, allowHeaders: [], exposeHeaders: [] };
}
const APP = 'https://app.example.com';
const PREVIEW = /https:\/\/[a-z]+\.preview\.example\.com/;
const WILDCARD = cors(['*'], false);
const LISTED = cors([APP, PREVIEW], true);

describe('credentialsAllowed', () => {
  it('needs --allow-credentials and the origin listed exactly or by a pattern', () => {
    expect(credentialsAllowed(LISTED, APP)).toBe(true);
    expect(credentialsAllowed(LISTED, 'https://pr.preview.example.com')).toBe(true);
    expect(credentialsAllowed(LISTED, 'https://evil.example')).toBe(false);
    expect(credentialsAllowed(cors([APP], false), APP)).toBe(false);
  });

  it("never through '*', even if a config got past load.ts with both", () => {
    expect(credentialsAllowed(cors(['*'], true), APP)).toBe(false);
  });
});

describe('withheldCredentials', () => {
  const foreign = { origin: 'https://evil.example', host: 'api.example.com', cookie: 's=1', authorization: 'Basic x' };

  it('withholds a foreign origin’s cookie; authorization only on a request that skipped the preflight', () => {
    expect(withheldCredentials(WILDCARD, foreign, false)).toEqual(['cookie']);
    expect(withheldCredentials(WILDCARD, foreign, true)).toEqual(['cookie', 'authorization']);
    expect(withheldCredentials(WILDCARD, { ...foreign, cookie2: 'x' }, false)).toEqual(['cookie', 'cookie2']);
    expect(withheldCredentials(LISTED, foreign, true)).toEqual(['cookie', 'authorization']);
    expect(withheldCredentials(cors([APP], false), { ...foreign, origin: APP }, true)).toEqual(['cookie', 'authorization']);
  });

  it('withholds nothing with consent, without an Origin, from the same origin, or with no credential at all', () => {
    expect(withheldCredentials(LISTED, { ...foreign, origin: APP }, true)).toBeNull();
    expect(withheldCredentials(WILDCARD, { host: 'api.example.com', cookie: 's=1' }, true)).toBeNull();
    expect(withheldCredentials(WILDCARD, { ...foreign, origin: 'https://api.example.com' }, true)).toBeNull();
    expect(withheldCredentials(WILDCARD, { ...foreign, 'sec-fetch-site': 'same-origin' }, true)).toBeNull();
    expect(withheldCredentials(WILDCARD, { origin: 'https://evil.example', host: 'api.example.com' }, true)).toBeNull();
    expect(withheldCredentials(WILDCARD, { origin: 'https://evil.example', authorization: 'Bearer t' }, false)).toBeNull();
  });
});
