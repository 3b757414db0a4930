// Who the UI talks as: the API token (when authentication is on) and the tenant. Kept in
// localStorage so a reload or a shared link in the same browser stays logged in.
import { reactive } from "vue";

const TOKEN_KEY = "lanner.token";
const TENANT_KEY = "lanner.tenant";

function stored(key: string): string {
  try {
    return globalThis.localStorage?.getItem(key) ?? "";
  } catch {
    return "";
  }
}

export const session = reactive({
  token: stored(TOKEN_KEY),
  tenant: stored(TENANT_KEY),
  // Set when the API answered 401: the app shows the login page.
  needsLogin: false,
});

export function logIn(token: string, tenant: string): void {
  session.token = token.trim();
  session.tenant = tenant.trim();
  session.needsLogin = false;
  globalThis.localStorage?.setItem(TOKEN_KEY, session.token);
  globalThis.localStorage?.setItem(TENANT_KEY, session.tenant);
}

export function logOut(): void {
  session.token = "";
  globalThis.localStorage?.removeItem(TOKEN_KEY);
}

/** /api/v1[/<tenant>]: the tenant segment is left out for the default tenant. */
export function apiBase(): string {
  return session.tenant ? `/api/v1/${encodeURIComponent(session.tenant)}` : "/api/v1";
}

export function authHeaders(): Record<string, string> {
  return session.token ? { Authorization: `Bearer ${session.token}` } : {};
}
