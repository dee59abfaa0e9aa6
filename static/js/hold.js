// The hold page: countdown to the server's expiry, extend, release, and the checkout form.

import { api, ApiError, describe, newKey, showError } from "./api.js";
import { clockOffset, startCountdown } from "./countdown.js";

const gettext = window.gettext || ((text) => text);
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

const root = document.getElementById("hold-page");
const holdUrl = root.dataset.holdUrl;
const liveBox = root.querySelector("[data-live-hold]");
const expiredBox = root.querySelector("[data-expired]");
const note = root.querySelector("[data-hold-note]");
const extendButton = root.querySelector('[data-action="extend"]');
const releaseButton = root.querySelector('[data-action="release"]');
const form = root.querySelector("[data-checkout]");
const payButton = form.querySelector("[data-pay]");
const formError = form.querySelector("[data-error]");
const offset = clockOffset(root.dataset.serverNow);
let finished = false;

function showExpired() {
  finished = true;
  countdown?.stop();
  expiredBox.hidden = false;
  liveBox.hidden = true;
  stepTo("seats");
  // The focused button just disappeared with the form: keep keyboard users on the news.
  expiredBox.focus();
}

async function confirmExpiry() {
  // Another tab may have extended the hold: ask the server before declaring it gone.
  try {
    const hold = await api("GET", holdUrl);
    const live = ["active", "paying"].includes(String(hold.status).toLowerCase());
    if (live && Date.parse(hold.expires_at) > Date.now() + offset) {
      countdown.update(hold.expires_at);
      return;
    }
    if (String(hold.status).toLowerCase() === "converted") {
      // Bought in another tab: this page's URL now leads to the order.
      location.reload();
      return;
    }
  } catch {
    // The server's expiry stands either way.
  }
  showExpired();
}

let countdown = null;
if (root.dataset.live === "1") {
  countdown = startCountdown(root.querySelector("[data-countdown]"), root.dataset.expiresAt, {
    offset,
    warningEl: root.querySelector("[data-countdown-warning]"),
    onExpire: confirmExpiry,
  });
}

extendButton.addEventListener("click", async () => {
  extendButton.disabled = true;
  try {
    const hold = await api("POST", `${holdUrl}/extend`);
    countdown.update(hold.expires_at);
    const left = Number(hold.extensions_left ?? 0);
    extendButton.dataset.extensionsLeft = String(left);
    extendButton.querySelector("[data-extend-label]").textContent = fmt(gettext("Give me more time (%(left)s left)"), {
      left,
    });
    extendButton.hidden = left <= 0;
    note.textContent = gettext("Done: you have more time.");
  } catch (error) {
    if (error.code === "HOLD_EXPIRED") showExpired();
    else if (error.code === "EXTENSION_LIMIT") extendButton.hidden = true;
    note.textContent = describe(error);
  } finally {
    extendButton.disabled = false;
  }
});

releaseButton.addEventListener("click", async () => {
  releaseButton.disabled = true;
  try {
    await api("DELETE", holdUrl);
    finished = true;
    countdown?.stop();
    location.assign(expiredBox.querySelector("[data-back]").href);
  } catch (error) {
    releaseButton.disabled = false;
    if (error.code === "HOLD_EXPIRED") showExpired();
    else note.textContent = describe(error);
  }
});

// Stripe: the card is typed into Stripe.js's card element and reaches this server only as a
// PaymentMethod id; 3-D Secure is Stripe.js's dialog, then the server is asked for the outcome.
const stripe = form.dataset.stripeKey ? window.Stripe(form.dataset.stripeKey) : null;
const cardElement = stripe ? stripe.elements().create("card") : null;
cardElement?.mount(form.querySelector("[data-card-element]"));

async function stripePaymentMethod() {
  const made = await stripe.createPaymentMethod({ type: "card", card: cardElement });
  if (made?.paymentMethod) return made.paymentMethod.id;
  if (made?.error) throw new ApiError({ code: "PAYMENT_DECLINED", message: made.error.message });
  // localstripe's stand-in for Stripe.js (tests) makes no PaymentMethod; its card token's card serves.
  const { token, error } = await stripe.createToken(cardElement);
  if (error) throw new ApiError({ code: "PAYMENT_DECLINED", message: error.message });
  return token.card.id;
}

async function stripeAuthenticate(error) {
  // The bank wants the buyer (3-D Secure): Stripe.js asks. Whatever the answer, the server
  // settles the attempt from the intent itself (an order, or declined with the hold given
  // back); the webhook may have settled it first, and the answer is the same.
  await stripe.confirmCardPayment(error.extra.client_secret);
  return api("POST", form.dataset.returnUrl);
}

function invalidField() {
  const name = form.buyer_name.value.trim();
  const email = form.buyer_email.value.trim();
  if (!name) return [form.buyer_name, gettext("Please enter the name for the tickets.")];
  if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) {
    return [form.buyer_email, gettext("Please enter a valid e-mail address.")];
  }
  if (stripe) return null;
  const card = form.card_number.value.replace(/[\s-]/g, "");
  if (!/^\d{12,19}$/.test(card)) return [form.card_number, gettext("Please enter the card number (12 to 19 digits).")];
  return null;
}

async function purchase() {
  const card = stripe ? await stripePaymentMethod() : form.card_number.value.replace(/[\s-]/g, "");
  const body = {
    buyer_name: form.buyer_name.value.trim(),
    buyer_email: form.buyer_email.value.trim(),
    card_number: card,
  };
  try {
    return await api("POST", `${holdUrl}/purchase`, body, { idempotencyKey: form.dataset.idempotencyKey });
  } catch (error) {
    if (stripe && error.code === "PAYMENT_ACTION_REQUIRED") return stripeAuthenticate(error);
    throw error;
  }
}

let submitting = false;
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  // A second click while the first is in flight must not start a second attempt.
  if (submitting || finished) return;
  const invalid = invalidField();
  if (invalid) {
    showError(formError, invalid[1]);
    invalid[0].focus();
    return;
  }
  submitting = true;
  payButton.disabled = true;
  const label = payButton.textContent;
  payButton.textContent = gettext("Paying…");
  showError(formError, "");
  try {
    const order = await purchase();
    finished = true;
    countdown?.stop();
    location.assign(root.dataset.orderPage.replace(/\/0\/$/, `/${order.id ?? order.order_id}/`));
    return;
  } catch (error) {
    // A definite answer ends this attempt: the next submit is a new attempt with a new key.
    // After a lost response or "busy", the retry keeps the key so it cannot charge twice.
    if (!error.retryable) form.dataset.idempotencyKey = newKey();
    showError(formError, describe(error));
    // The pay button was disabled while paying, which lost the focus: put it on the words.
    formError.focus();
    if (error.code === "HOLD_EXPIRED") {
      finished = true;
      countdown?.stop();
      expiredBox.hidden = false;
    } else if (error.code === "SEATS_UNAVAILABLE") {
      finished = true;
      formError.append(" ");
      const back = expiredBox.querySelector("[data-back]").cloneNode(true);
      formError.append(back);
    }
  } finally {
    submitting = false;
    payButton.textContent = label;
    payButton.disabled = finished;
  }
});

// The step indicator follows the form: details, then payment once the card has the focus.
function stepTo(step) {
  const steps = document.querySelector("[data-steps]");
  if (!steps) return;
  const order = ["seats", "details", "payment", "tickets"];
  const at = order.indexOf(step);
  for (const item of steps.querySelectorAll("[data-step]")) {
    const i = order.indexOf(item.dataset.step);
    item.classList.toggle("current", i === at);
    item.classList.toggle("done", i < at);
    if (i === at) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
    item.querySelector(".n").textContent = i < at ? "✓" : String(i + 1);
    let done = item.querySelector(".visually-hidden");
    if (i < at && !done) {
      done = document.createElement("span");
      done.className = "visually-hidden";
      done.textContent = ` (${gettext("done")})`;
      item.appendChild(done);
    } else if (i >= at && done) done.remove();
  }
}
form.addEventListener("focusin", (event) => {
  const fields = event.target.closest("[data-step-fields]");
  if (fields) stepTo(fields.dataset.stepFields);
});
if (root.dataset.live !== "1") stepTo("seats");
