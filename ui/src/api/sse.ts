// Server-sent events over fetch (EventSource cannot send the token), reconnecting by itself
// with a growing pause, and saying so through `onStatus`.
import { errorOf } from "./client";
import { apiBase, authHeaders } from "./session";

// "failed": the API refused the stream (4xx: no such execution, no access); no retry.
export type StreamStatus = "connecting" | "live" | "reconnecting" | "ended" | "failed";

export interface SseEvent {
  event: string;
  data: string;
  id: string;
}

/** Split a text/event-stream buffer into complete events and the unfinished rest. */
export function parseSse(buffer: string): { events: SseEvent[]; rest: string } {
  const events: SseEvent[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    const event: SseEvent = { event: "message", data: "", id: "" };
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event.event = value;
      else if (field === "data") data.push(value);
      else if (field === "id") event.id = value;
    }
    if (data.length) {
      event.data = data.join("\n");
      events.push(event);
    }
  }
  return { events, rest };
}

export interface Follow {
  close(): void;
}

export function follow(
  path: string,
  onEvent: (event: SseEvent) => void,
  onStatus: (status: StreamStatus, detail?: string) => void,
): Follow {
  let closed = false;
  let ended = false;
  let refused: Error | null = null;
  const controller = new AbortController();

  async function once(): Promise<void> {
    const response = await fetch(apiBase() + path, {
      headers: { ...authHeaders(), accept: "text/event-stream" },
      signal: controller.signal,
    });
    if (response.status >= 400 && response.status < 500) {
      refused = await errorOf(response, `following ${path}`);
      return;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    onStatus("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const parsed = parseSse(buffer + value);
      buffer = parsed.rest;
      for (const event of parsed.events) {
        if (event.event === "end") ended = true;
        onEvent(event);
      }
    }
  }

  async function loop(): Promise<void> {
    let pause = 500;
    onStatus("connecting");
    while (!closed && !ended) {
      try {
        await once();
        pause = 500;
      } catch (exc) {
        if (closed) return;
        onStatus("reconnecting", String(exc));
      }
      if (refused) {
        onStatus("failed", refused.message);
        return;
      }
      if (ended || closed) break;
      onStatus("reconnecting", "the event stream was lost; reconnecting");
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 5000);
    }
    if (!closed) onStatus("ended");
  }

  void loop();
  return {
    close() {
      closed = true;
      controller.abort();
    },
  };
}
