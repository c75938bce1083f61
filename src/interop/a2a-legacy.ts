/**
 * A2A v0.3 errors that keep what v1.0 errors carry. The SDK's v0.3 JSON-RPC
 * handler answers a thrown error with its code and message only, so the
 * `ErrorInfo` holding conclave's code (`error.data[0].metadata.code`) would
 * be lost to v0.3 callers; JSON-RPC's `data` member is free-form in both
 * versions, so the gateway puts the v1.0 `data` back.
 */
import { LegacyJsonRpcTransportHandler } from "@a2a-js/sdk/compat/v0_3/server";
import { JsonRpcTransportHandler, type ServerCallContext } from "@a2a-js/sdk/server";
import { CallState, type SwarmA2AHandler } from "./a2a-handler.js";

interface ErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

/** `error` as a v0.3 JSON-RPC error, with the v1.0 `data` (conclave's code) when v0.3 has none. */
export function legacyErrorBody(error: unknown): ErrorBody {
  const body = LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(error) as ErrorBody;
  if (body.data !== undefined) return body;
  const data = (JsonRpcTransportHandler.mapToJSONRPCError(error) as ErrorBody).data;
  return data === undefined ? body : { ...body, data };
}

/**
 * `handler` for the v0.3 transport handler: an error one of its methods
 * rejects with is noted in the call's state, for {@link withLegacyData}.
 * (Streams need no note: their errors reach the gateway itself.)
 */
export function noteErrors(handler: SwarmA2AHandler): SwarmA2AHandler {
  return new Proxy(handler, {
    get(target, key) {
      const value: unknown = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result: unknown = value.apply(target, args);
        const context = args[1] as ServerCallContext | undefined;
        if (!(result instanceof Promise) || context?.state === undefined) return result;
        return result.catch((error: unknown) => {
          context.state.set(CallState.error, error);
          throw error;
        });
      };
    },
  });
}

/** A v0.3 answer whose error lost its `data`, given it back from the error noted in `context`. */
export function withLegacyData(answer: unknown, context: ServerCallContext): unknown {
  const error = context.state.get(CallState.error);
  const reply = answer as { error?: ErrorBody } | null;
  if (error === undefined || reply?.error === undefined || reply.error.data !== undefined) {
    return answer;
  }
  const data = legacyErrorBody(error).data;
  return data === undefined ? answer : { ...reply, error: { ...reply.error, data } };
}
