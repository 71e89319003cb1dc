/**
 * Request headers a browser owns, and the ones that carry ambient authority or claim where a
 * request came from. Pure name rules; the front end decides with them what reaches a Pod.
 */

/**
 * Fetch standard "forbidden request-header" names: a page's script can never set them, the
 * browser does. Also the forwarding headers, which only a proxy the gateway trusts may set.
 */
const BROWSER_OWNED = new Set([
  'accept-charset',
  'accept-encoding',
  'access-control-request-headers',
  'access-control-request-method',
  'access-control-request-private-network',
  'connection',
  'content-length',
  'cookie',
  'cookie2',
  'date',
  'dnt',
  'expect',
  'host',
  'keep-alive',
  'origin',
  'referer',
  'set-cookie',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'user-agent',
  'via',
]);

/**
 * A header that must not come out of $httpHeaders (the official client's suppressCorsPreflight
 * query parameter, written by the page's script). In a preflighted call the browser silently
 * ignores a script that sets one of these; dropping them here makes the query parameter carry
 * exactly what the same script could have sent as headers, never a second Origin or Cookie.
 * `authorization` is not one: the official client puts it there, and a script may set it.
 */
export function isBrowserOwnedHeader(lowerCaseName: string): boolean {
  if (BROWSER_OWNED.has(lowerCaseName)) return true;
  const c = lowerCaseName.charCodeAt(0);
  if (c === 0x70 /* p */) return lowerCaseName.startsWith('proxy-');
  if (c === 0x73 /* s */) return lowerCaseName.startsWith('sec-');
  return isForwardingHeader(lowerCaseName);
}

/**
 * Headers that tell a server who the client is and how it connected: believable only when a
 * proxy the gateway trusts wrote them (--trust-proxy); anyone else can write anything there.
 */
export function isForwardingHeader(lowerCaseName: string): boolean {
  const c = lowerCaseName.charCodeAt(0);
  if (c === 0x78 /* x */) return lowerCaseName.startsWith('x-forwarded-') || lowerCaseName === 'x-real-ip';
  return c === 0x66 /* f */ && lowerCaseName === 'forwarded';
}


/**
 * Whether the page that made a browser request has the gateway's own origin. `Sec-Fetch-Site`
 * (set by the browser, unforgeable by script) decides when present; older browsers send only
 * Origin, which is compared with Host ("https://api.example.com" ~ "api.example.com"). The
 * scheme is not compared: TLS is often terminated before the gateway. A proxy that rewrites
 * Host makes same-origin calls look cross-origin, which only ever drops credentials.
 */
export function isSameOriginRequest(origin: string, host: string | undefined, secFetchSite: string | undefined): boolean {
  if (secFetchSite !== undefined) return secFetchSite === 'same-origin' || secFetchSite === 'none';
  if (host === undefined) return false;
  const sep = origin.indexOf('://');
  return sep !== -1 && origin.length - sep - 3 === host.length && origin.endsWith(host) && host.length > 0;
}
