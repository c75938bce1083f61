import { type AmqpTlsOptions, resolveSettings } from "./config.js";
import { closeModel, openConnection } from "./connection.js";
import { mapAmqpError } from "./errors.js";
import { configQueueName, DELAY_BUCKETS, delayExchangeName, delayQueueName } from "./topology.js";

/**
 * Deletes what the adapter declared on an exchange: the given work queues
 * and their stored settings, the delay queues and exchange, and the
 * exchange itself. For tests and teardown; messages in them are lost.
 * Queue-group and subscription queues delete themselves.
 *
 * @example
 * ```ts
 * await deleteAmqpTopology({ url, exchange: "conclave-test-1a2b", queues: ["t1-work", "t1-dlq"] });
 * ```
 */
export async function deleteAmqpTopology(options: {
  readonly url: string;
  readonly exchange?: string;
  readonly queues: Iterable<string>;
  readonly tls?: AmqpTlsOptions;
}): Promise<void> {
  const settings = resolveSettings({
    url: options.url,
    ...(options.exchange === undefined ? {} : { exchange: options.exchange }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
  });
  const model = await openConnection(settings, options.tls);
  model.on("error", () => undefined);
  try {
    const channel = await model.createChannel();
    channel.on("error", () => undefined);
    for (const queue of options.queues) {
      await channel.deleteQueue(queue);
      await channel.deleteQueue(configQueueName(queue));
    }
    for (const k of DELAY_BUCKETS) await channel.deleteQueue(delayQueueName(settings.exchange, k));
    await channel.deleteExchange(delayExchangeName(settings.exchange));
    await channel.deleteExchange(settings.exchange);
  } catch (error) {
    throw mapAmqpError(error, `deleting the topology of exchange "${settings.exchange}"`);
  } finally {
    await closeModel(model);
  }
}
