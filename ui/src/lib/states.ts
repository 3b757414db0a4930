export const STATES = [
  "CREATED", "QUEUED", "RUNNING", "PAUSED", "RESTARTED", "KILLING", "SUCCESS", "WARNING",
  "FAILED", "KILLED", "CANCELLED", "RETRYING", "RETRIED", "SKIPPED", "BREAKPOINT",
] as const;

const TERMINAL = new Set(["SUCCESS", "WARNING", "FAILED", "KILLED", "CANCELLED", "SKIPPED", "RETRIED"]);

export function isTerminal(state: string): boolean {
  return TERMINAL.has(state);
}

export function stateClass(state: string): string {
  return `state-${state.toLowerCase()}`;
}
