/**
 * How the swarm's tasks look to an A2A client: an A2A task *is* a swarm task
 * (same id, a ULID), and its state is read from the swarm's store through the
 * front door, never kept here. That is what lets a restarted gateway answer
 * `tasks/get` for a task it started before, and why there is no A2A task
 * store to lose.
 */
import { type Artifact, type Message, type Part, Role, type Task, TaskState } from "@a2a-js/sdk";
import { ContentTypeNotSupportedError } from "@a2a-js/sdk/errors";
import type { OutsideTaskState } from "./front-door.js";

/** What a message's parts may carry, as the cards declare: a data part (JSON) or text. */
export const INPUT_MODES: readonly string[] = Object.freeze(["application/json", "text/plain"]);

/** The id of the one artifact a finished swarm task has: its result. */
export function resultArtifactId(taskId: string): string {
  return `${taskId}-result`;
}

/** A value as A2A parts: a string as text, anything else as a data part. */
export function partsOf(value: unknown): Part[] {
  if (typeof value === "string") return [textPart(value)];
  return [
    {
      content: { $case: "data", value: value === undefined ? null : value },
      metadata: undefined,
      filename: "",
      mediaType: "application/json",
    },
  ];
}

export function textPart(text: string): Part {
  return {
    content: { $case: "text", value: text },
    metadata: undefined,
    filename: "",
    mediaType: "",
  };
}

/**
 * The swarm task's input from an A2A message: its first data part, else its
 * text parts joined by newlines.
 *
 * @throws ContentTypeNotSupportedError when it has neither (only file
 *   parts, say): the swarm's tasks take JSON or text, nothing else.
 */
export function inputOf(message: Message): unknown {
  for (const part of message.parts) {
    if (part.content?.$case === "data") return part.content.value;
  }
  const texts = message.parts.flatMap((p) =>
    p.content?.$case === "text" ? [p.content.value] : [],
  );
  if (texts.length === 0) {
    const sent = message.parts.map((p) => p.content?.$case ?? "empty").join(", ");
    throw new ContentTypeNotSupportedError(
      `the message has no data or text part (it has: ${sent}); the swarm's tasks take ${INPUT_MODES.join(" or ")}: send the input as a data part, or as text`,
    );
  }
  return texts.join("\n");
}

/** The artifact carrying a completed task's result. */
export function resultArtifact(taskId: string, result: unknown): Artifact {
  return {
    artifactId: resultArtifactId(taskId),
    name: "result",
    description: "The swarm task's result.",
    parts: partsOf(result),
    metadata: undefined,
    extensions: [],
  };
}

/** An agent message saying `text`, for a task's status. */
export function statusMessage(
  taskId: string,
  contextId: string,
  text: string,
  metadata?: Record<string, string>,
): Message {
  return {
    messageId: `${taskId}-status`,
    contextId,
    taskId,
    role: Role.ROLE_AGENT,
    parts: [textPart(text)],
    metadata,
    extensions: [],
    referenceTaskIds: [],
  };
}

/** Maps where a swarm task stands to A2A task states. */
export function a2aState(state: OutsideTaskState): TaskState {
  switch (state.state) {
    case "working":
      return TaskState.TASK_STATE_WORKING;
    case "completed":
      return TaskState.TASK_STATE_COMPLETED;
    case "failed":
      return TaskState.TASK_STATE_FAILED;
  }
}

/**
 * The A2A task for a swarm task's state: its result as an artifact once
 * completed, the dead letter's reason once failed. A completed task reports
 * what it cost in `metadata.cost` (credits) when `price` is set, so a
 * conclave caller (a remote role) charges it to its own agent.
 */
export function a2aTask(
  state: OutsideTaskState,
  contextId: string,
  price = 0,
  at = new Date(),
): Task {
  const taskId = state.taskId;
  return {
    id: taskId,
    contextId,
    status: {
      state: a2aState(state),
      message:
        state.state === "failed"
          ? statusMessage(taskId, contextId, state.reason, { code: "E_DEAD_LETTERED" })
          : undefined,
      timestamp: at.toISOString(),
    },
    artifacts: state.state === "completed" ? [resultArtifact(taskId, state.result)] : [],
    history: [],
    metadata: state.state === "completed" && price > 0 ? { cost: price } : undefined,
  };
}

/** A task the swarm refused before running it (a privileged action its council did not approve). */
export function rejectedTask(
  taskId: string,
  contextId: string,
  reason: string,
  metadata: Record<string, string>,
): Task {
  return {
    id: taskId,
    contextId,
    status: {
      state: TaskState.TASK_STATE_REJECTED,
      message: statusMessage(taskId, contextId, reason, metadata),
      timestamp: new Date().toISOString(),
    },
    artifacts: [],
    history: [],
    metadata,
  };
}
