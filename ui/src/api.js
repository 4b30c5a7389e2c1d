// The admin API client: JSON in and out, the session's CSRF token on every
// mutation, and errors as ApiError carrying the API's own message.

/** Where the admin API lives, relative to this origin. */
export const ADMIN = "/_flow-proxy/admin/";

let csrfToken = null;

/** Remembers the CSRF token of the session (from login or me). */
export function setCsrf(token) {
  csrfToken = token ?? null;
}

/** An error answer of the admin API (or a failure to reach it). */
export class ApiError extends Error {
  constructor(status, message, type) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.type = type ?? null;
  }
}

/** The query string of `params`, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  }
  const s = q.toString();
  return s === "" ? "" : `?${s}`;
}

/**
 * Calls `path` under the admin API; resolves to the parsed JSON body, or
 * throws an ApiError naming the status and the API's message.
 */
export async function api(path, options = {}) {
  const method = options.method ?? "GET";
  const headers = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken !== null) {
    headers["x-csrf-token"] = csrfToken;
  }
  let res;
  try {
    res = await fetch(ADMIN + path + query(options.query), {
      method,
      headers,
      credentials: "same-origin",
      body: options.body === undefined
        ? undefined
        : JSON.stringify(options.body),
    });
  } catch (err) {
    throw new ApiError(0, `Cannot reach the server: ${err.message}`);
  }
  const text = await res.text();
  let body = null;
  try {
    body = text === "" ? null : JSON.parse(text);
  } catch {
    body = null;
  }
  if (!res.ok) {
    const message = body?.error?.message ??
      `${res.status} ${res.statusText || "error"}`;
    throw new ApiError(res.status, message, body?.error?.type);
  }
  return body;
}

/** Why a page cannot show what it asked for, in words for the page. */
export function explain(error) {
  if (!(error instanceof ApiError)) return String(error?.message ?? error);
  if (error.status === 404 && /No admin route/.test(error.message)) {
    return `This server's admin API has no such route yet (${error.message}).`;
  }
  return `${error.status ? `${error.status}: ` : ""}${error.message}`;
}
