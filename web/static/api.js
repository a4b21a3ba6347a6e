// The API client of the chat page and the dashboard: tokens in this origin's
// localStorage (the blog's storage is never touched), JSON calls with one refresh retry,
// and a streaming reader for the ask endpoint's server-sent events.

const SESSION_KEY = "protostar:session";

export class ApiError extends Error {
  constructor(status, body) {
    const err = (body && body.error) || {};
    super(err.message || `HTTP ${status}`);
    this.status = status;
    this.code = err.code || "http_" + status;
    this.details = err.details || err; // quota errors carry scope, limit, signup_hint, ...
    this.body = body;
  }
}

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch (_) {
    return null;
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch (_) {
    /* storage may be blocked (third-party frames): the session lasts for this page */
  }
}

export const store = { read, write };

export function session() {
  return read(SESSION_KEY);
}

export function saveSession(tokens) {
  write(SESSION_KEY, {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    user: tokens.user,
  });
}

export function clearSession() {
  write(SESSION_KEY, null);
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  if (response.status === 204) return null;
  if (type.includes("json")) return response.json();
  return null;
}

let refreshing = null;

export async function refresh() {
  const current = session();
  if (!current || !current.refresh_token) return false;
  refreshing =
    refreshing ||
    fetch("/api/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    })
      .then(async (r) => {
        if (!r.ok) {
          if (r.status === 401 || r.status === 400) clearSession();
          return false;
        }
        saveSession(await r.json());
        return true;
      })
      .catch(() => false)
      .finally(() => {
        refreshing = null;
      });
  return refreshing;
}

// fetch() with the user's token (or an explicit one), retried once after a refresh;
// `anonymous` sends no token at all (sign-up, sign-in and password reset).
export async function call(method, path, { body, token, headers = {}, raw = false, anonymous = false } = {}) {
  const send = () => {
    const h = { Accept: "application/json", ...headers };
    const bearer = anonymous ? null : token || (session() && session().access_token);
    if (bearer) h.Authorization = "Bearer " + bearer;
    let payload = body;
    if (body !== undefined && !(body instanceof FormData)) {
      h["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    return fetch(path, { method, headers: h, body: payload, credentials: "omit" });
  };
  let response = await send();
  if (response.status === 401 && !token && !anonymous && session() && (await refresh())) {
    response = await send();
  }
  if (raw) return response;
  const data = await parse(response);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// The account calls of the dashboard and the reset page (shared/accounts/contracts.py).
// Sign-up, sign-in, a redeemed invite and a changed password answer a session
// (TokenResponse); a redeem takes the token of the session it upgrades, which the answer
// replaces. A changed password or a deletion needs the current password.
export const accounts = {
  me: () => call("GET", "/api/users/me"),
  updateProfile: (changes) => call("PATCH", "/api/users/me", { body: changes }),
  changePassword: (current_password, password) => call("PATCH", "/api/users/me", { body: { current_password, password } }),
  signOutEverywhere: () => call("POST", "/api/users/me/sessions/revoke"),
  exportData: () => call("GET", "/api/users/me/export"),
  deleteAccount: (current_password) => call("DELETE", "/api/users/me", { body: { current_password } }),
  signup: (body) => call("POST", "/api/auth/signup", { body, anonymous: true }),
  login: (email, password) => call("POST", "/api/auth/login", { body: { email, password }, anonymous: true }),
  redeemInvite: (code, token) => call("POST", "/api/users/me/invite", { body: { code }, token }),
  requestPasswordReset: (email) => call("POST", "/api/auth/password-reset", { body: { email }, anonymous: true }),
  confirmPasswordReset: (token, password) =>
    call("POST", "/api/auth/password-reset/confirm", { body: { token, password }, anonymous: true }),
};

// Server-sent events from a fetch() response: yields {event, data} with data parsed
// as JSON when it is JSON.
export async function* events(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const parseBlock = (block) => {
    let event = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return null;
    const text = data.join("\n");
    try {
      return { event, data: JSON.parse(text) };
    } catch (_) {
      return { event, data: text };
    }
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer = (buffer + value).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const parsed = parseBlock(buffer.slice(0, end));
      buffer = buffer.slice(end + 2);
      if (parsed) yield parsed;
    }
  }
  if (buffer.trim()) {
    const parsed = parseBlock(buffer);
    if (parsed) yield parsed;
  }
}
