import { ConclaveError, ConfigError, TransportError, toError } from "../../errors/index.js";

/** The AMQP reply code carried by an amqplib error (404, 406, 403, 320, …), if any. */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" ? code : undefined;
}

/** amqplib's message for a channel or connection closed by the server, or the error's message. */
function detail(error: unknown): string {
  return toError(error).message;
}

/**
 * Maps a driver error to conclave's classes, keeping it as `cause`:
 * refused access and inequivalent or missing objects are configuration
 * problems; anything else is a `TransportError`. `what` says what was being
 * done, e.g. `declaring queue "work"`.
 */
export function mapAmqpError(error: unknown, what: string): Error {
  if (error instanceof ConclaveError) return error;
  const code = replyCode(error);
  switch (code) {
    case 403:
      return new ConfigError(
        `RabbitMQ refused access while ${what}: ${detail(error)}; check the user's permissions on the vhost`,
        [],
        { cause: error },
      );
    case 404:
      return new ConfigError(
        `RabbitMQ has no such object while ${what}: ${detail(error)}; declare it first`,
        [],
        { cause: error },
      );
    case 406:
      return new ConfigError(
        `RabbitMQ refused ${what}: ${detail(error)}; an object of that name exists with other settings (delete it, or change it with a policy)`,
        [],
        { cause: error },
      );
    default:
      return new TransportError(`RabbitMQ failed while ${what}: ${detail(error)}`, {
        cause: error,
      });
  }
}

/**
 * The error for a failed connection attempt; never mentions credentials.
 * `endpoint` is the URL without them (`amqp://host:port/vhost`).
 */
export function connectError(error: unknown, endpoint: string): Error {
  const message = detail(error);
  if (replyCode(error) === 403 || /ACCESS.REFUSED/i.test(message)) {
    return new ConfigError(
      `RabbitMQ at ${endpoint} refused the login; check the user name, password and vhost`,
      [],
      { cause: error },
    );
  }
  // The login passed, and the broker closed the connection at connection.open,
  // whose only argument is the vhost: 530 NOT_ALLOWED (amqplib drops the text).
  if (/Expected ConnectionOpenOk; got <ConnectionClose/i.test(message)) {
    const vhost = vhostOf(endpoint);
    return new ConfigError(
      `RabbitMQ at ${endpoint} refused to open vhost "${vhost}": it does not exist, or the user has no permission on it; create it (rabbitmqctl add_vhost ${vhost}) and grant the user access (rabbitmqctl set_permissions -p ${vhost} <user> ".*" ".*" ".*"), or fix the vhost in the URL (the path after host:port; none means "/")`,
      [],
      { cause: error },
    );
  }
  // amqplib decodes the user name, password and vhost with decodeURIComponent.
  if (error instanceof URIError || /^URI malformed$/i.test(message)) {
    return new ConfigError(
      `the RabbitMQ URL for ${endpoint} has a malformed percent-escape in its user name, password or vhost (a % not followed by two hex digits); percent-encode special characters there: % as %25, @ as %40, : as %3A, / as %2F`,
      [],
      { cause: error },
    );
  }
  return new TransportError(
    `cannot connect to RabbitMQ at ${endpoint}: ${message}; check the URL and that the broker is running`,
    { cause: error },
  );
}

/** The vhost an endpoint URL names: its path, percent-decoded; "/" when it has none. */
function vhostOf(endpoint: string): string {
  try {
    const path = new URL(endpoint).pathname.slice(1);
    return path === "" ? "/" : decodeURIComponent(path);
  } catch {
    return "/";
  }
}
