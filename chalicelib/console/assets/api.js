// The API, asked with the token kept in this tab's session storage: sent in the Authorization
// header only (never a cookie, never a URL).
const KEY = "event-scheduler.console.token";
// The API's root is the folder the page is served from: "/" locally, "/<stage>/" behind API Gateway.
const ROOT = new URL(".", location.href);

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (value) => sessionStorage.setItem(KEY, value.trim()),
  clear: () => sessionStorage.removeItem(KEY),
};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Authorization: `Bearer ${token.get()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(new URL(path.replace(/^\//, ""), ROOT), {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "omit",
    cache: "no-store",
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    if (response.status === 401) {
      token.clear();
      window.dispatchEvent(new Event("console:signed-out"));
    }
    const error = data && data.error;
    throw new ApiError(response.status, error ? `${response.status} ${error.code}: ${error.message}` : `HTTP ${response.status}`);
  }
  return data;
}

// The same request, with null for a 404 (a deleted user, an event without a schedule).
export async function maybe(path) {
  try {
    return await api(path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

// Whether the token is known to be a service token (its `roles` claim lists service, not
// admin): read for display only, to leave out what the API would refuse it (retry, endpoints).
// A token without that claim (another identity provider's) is offered everything; the API decides.
export function serviceOnly() {
  try {
    const part = token.get().split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const claimed = JSON.parse(atob(part)).roles;
    const roles = Array.isArray(claimed) ? claimed : [];
    return roles.includes("service") && !roles.includes("admin");
  } catch {
    return false;
  }
}
