// The JSON API as the pages use it: session cookie + CSRF header, errors as ApiError.

const gettext = (text) => (window.gettext ? window.gettext(text) : text);

export class ApiError extends Error {
  constructor({ status = 0, code = "NETWORK", message, extra = {} }) {
    super(message || gettext("Something went wrong. Please try again."));
    this.status = status;
    this.code = code;
    this.extra = extra || {};
  }

  // Worth retrying with the same idempotency key: the server may not have seen the request.
  get retryable() {
    return (
      ["NETWORK", "PURCHASE_IN_PROGRESS", "PAYMENT_FAILED"].includes(this.code) ||
      [429, 502, 503, 504].includes(this.status)
    );
  }
}

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  if (meta && meta.content) return meta.content;
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(method, url, body, { idempotencyKey, headers = {} } = {}) {
  const init = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", ...headers },
  };
  if (method !== "GET" && method !== "HEAD") {
    init.headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  if (idempotencyKey) init.headers["Idempotency-Key"] = idempotencyKey;
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError({ message: gettext("Could not reach the server. Check your connection and try again.") });
  }
  if (response.status === 204) return null;
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    throw new ApiError({
      status: response.status,
      code: (data && data.code) || `HTTP_${response.status}`,
      message:
        (data && data.message) ||
        gettext("The server answered %(status)s. Please try again.").replace("%(status)s", response.status),
      extra: data && data.extra,
    });
  }
  return data;
}

// Words for the errors a buyer meets most, saying what to do next; every other error shows
// the server's own message, which is written for people too.
const gettext_noop = (text) => text;
const ADVICE = {
  SEATS_UNAVAILABLE: gettext_noop("Sorry, some of those seats were just taken by someone else. Please pick again."),
  HOLD_EXPIRED: gettext_noop("Your hold has expired and the seats went back on sale."),
  PAYMENT_DECLINED: gettext_noop("Your card was declined. Nothing was charged; check the number or try another card."),
  PAYMENT_FAILED: gettext_noop("We could not reach the payment provider. Please try again: you will not be charged twice."),
  PURCHASE_IN_PROGRESS: gettext_noop("Your payment is still being processed. Please wait a moment, then try again."),
  BUSY: gettext_noop("Lots of people are buying right now. Please try again in a moment."),
  UNAUTHENTICATED: gettext_noop("Please log in first."),
};

export function describe(error) {
  if (!(error instanceof ApiError)) return gettext("Something went wrong. Please try again.");
  // The server names every taken seat: its words say more than the general advice.
  if (error.code === "SEATS_UNAVAILABLE" && error.extra?.seats?.length) return error.message;
  return ADVICE[error.code] ? gettext(ADVICE[error.code]) : error.message;
}

export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function showError(el, message) {
  if (!el) return;
  el.textContent = message || "";
  el.hidden = !message;
}
