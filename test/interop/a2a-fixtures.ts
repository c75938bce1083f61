/**
 * What the A2A tests share: a client of the real `@a2a-js/sdk` that sends a
 * bearer token, and messages in the SDK's v1.0 shape.
 */
import { type Message, type Part, Role, type SendMessageRequest } from "@a2a-js/sdk";
import {
  type Client,
  ClientFactory,
  ClientFactoryOptions,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from "@a2a-js/sdk/client";

/** `fetch` that adds `Authorization: Bearer <token>` (none when token is undefined). */
export function bearerFetch(token: string | undefined): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    if (token !== undefined) headers.set("authorization", `Bearer ${token}`);
    return fetch(input, { ...init, headers });
  };
}

/** An SDK client for the agent whose card is at `cardUrl`, sending `token`. */
export async function a2aClient(cardUrl: string, token: string | undefined): Promise<Client> {
  const fetchImpl = bearerFetch(token);
  const factory = new ClientFactory(
    ClientFactoryOptions.createFrom(ClientFactoryOptions.default, {
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }),
  );
  return factory.createFromUrl(cardUrl, "");
}

export function dataPart(value: unknown): Part {
  return { content: { $case: "data", value }, metadata: undefined, filename: "", mediaType: "" };
}

export function textPart(text: string): Part {
  return {
    content: { $case: "text", value: text },
    metadata: undefined,
    filename: "",
    mediaType: "",
  };
}

/** A user message asking for `skill` with `parts`. */
export function ask(
  skill: string | undefined,
  parts: Part[],
  configuration?: { returnImmediately?: boolean },
): SendMessageRequest {
  const message: Message = {
    messageId: crypto.randomUUID(),
    contextId: "",
    taskId: "",
    role: Role.ROLE_USER,
    parts,
    metadata: skill === undefined ? undefined : { skill },
    extensions: [],
    referenceTaskIds: [],
  };
  return {
    tenant: "",
    message,
    configuration:
      configuration === undefined
        ? undefined
        : {
            acceptedOutputModes: [],
            taskPushNotificationConfig: undefined,
            returnImmediately: configuration.returnImmediately ?? false,
          },
    metadata: undefined,
  };
}

/** The value of an artifact's or message's first data part, else its text. */
export function partsValue(parts: readonly Part[] | undefined): unknown {
  for (const p of parts ?? []) if (p.content?.$case === "data") return p.content.value;
  return (parts ?? [])
    .flatMap((p) => (p.content?.$case === "text" ? [p.content.value] : []))
    .join("\n");
}
