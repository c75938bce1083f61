const MASK = "***";

// Query parameters that carry credentials in the URLs conclave accepts
// (libpq's `password`, `sslpassword`, NATS `token`, and generic API keys).
const SECRET_PARAM = /pass|pwd|secret|token|key|auth|credential/i;

/**
 * Hides the credentials in a connection URL so it can be logged or shown in
 * an error: the password of the user-info part, a NATS token (a user name
 * without password in a `nats://` or `tls://` URL is a token), and query
 * parameters that look like secrets. Works on strings that are not valid
 * URLs too, erring on the side of hiding more; strings without credentials
 * come back unchanged.
 *
 * @example
 * ```ts
 * redactUrl("amqp://worker:s3cret@rabbit:5672/swarm"); // "amqp://worker:***@rabbit:5672/swarm"
 * redactUrl("nats://tok3n@nats-1:4222");               // "nats://***@nats-1:4222"
 * redactUrl("postgres://db/app?password=x&ssl=true");  // "postgres://db/app?password=***&ssl=true"
 * ```
 */
export function redactUrl(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  if (scheme === null) return url;
  const prefix = scheme[0];
  const rest = url.slice(prefix.length);
  // The authority ends at the query or fragment; the user info ends at the
  // last "@" before that, so passwords holding "@" or "/" are still covered.
  const queryAt = rest.search(/[?#]/);
  const head = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const tail = queryAt === -1 ? "" : rest.slice(queryAt);
  const at = head.lastIndexOf("@");
  let authority = head;
  if (at !== -1) {
    const userInfo = head.slice(0, at);
    const colon = userInfo.indexOf(":");
    const isTokenScheme = /^(nats|tls)$/i.test(scheme[1] ?? "");
    const hidden =
      colon !== -1
        ? `${userInfo.slice(0, colon)}:${MASK}`
        : isTokenScheme && userInfo.length > 0
          ? MASK
          : userInfo;
    authority = `${hidden}${head.slice(at)}`;
  }
  return prefix + authority + redactQuery(tail);
}

function redactQuery(tail: string): string {
  return tail.replace(/([?&;])([^=&;#]+)=([^&;#]*)/g, (whole, separator, name) =>
    SECRET_PARAM.test(name) ? `${separator}${name}=${MASK}` : whole,
  );
}
