/**
 * Checks of a flavor's endpoint URL, the same in every flavor: an http(s)
 * URL, no credentials inside it, and credentials over plain http only to this
 * machine (anyone on the way could read them).
 */

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\])$/i;

/** Whether a URL's hostname is this machine (localhost, 127.0.0.0/8, [::1]). */
export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.test(hostname);
}

export interface EndpointRules {
  /** The config field, as messages name it: `tracking_uri`. */
  field: string;
  /** The field that holds the credentials, named in the message about credentials in the URL. */
  credentialsField?: string;
  /** Whether credentials will be sent: then plain http is allowed to this machine only. */
  sendsCredentials?: boolean;
  /** Refuse a query or a fragment (a base URL that paths are appended to). */
  bareBase?: boolean;
}

/** The parts of a parsed endpoint a flavor reads (a WHATWG `URL` has them all). */
export interface EndpointUrl {
  readonly href: string;
  readonly origin: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly pathname: string;
}

/** The endpoint as a URL, or a sentence saying what is wrong with it (never its credentials). */
export function parseEndpoint(value: string, rules: EndpointRules): EndpointUrl | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${rules.field} must be an http(s) URL`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `${rules.field} must be an http(s) URL`;
  }
  if (url.username !== '' || url.password !== '') {
    return `put credentials in ${rules.credentialsField ?? 'their own config field'}, never in the URL`;
  }
  if (rules.bareBase === true && (url.search !== '' || url.hash !== '')) {
    return `${rules.field} takes no query and no fragment`;
  }
  if (
    rules.sendsCredentials === true &&
    url.protocol === 'http:' &&
    !isLoopbackHost(url.hostname)
  ) {
    const what =
      rules.credentialsField === undefined ? 'credentials are' : `${rules.credentialsField} is`;
    return `${what} only sent over https (or plain http to this machine)`;
  }
  return url;
}

/** A base URL that request paths are appended to: origin and path, without trailing slashes. */
export function baseUrlOf(url: EndpointUrl): string {
  return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
}
