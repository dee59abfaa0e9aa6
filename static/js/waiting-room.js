// The waiting room page: join (or find) my place, then follow "now serving" over the event
// websocket (one broadcast per change, for everyone), with polling as the fallback. My own
// turn arrives on my socket alone (queue.admitted): the page then reloads into the seat map.

import { ApiError, api, describe, showError } from "./api.js";
import { connectEvent } from "./live.js";
import { clockOffset, startCountdown } from "./countdown.js";

const gettext = (text) => (window.gettext ? window.gettext(text) : text);
const ngettext = (one, many, n) => (window.ngettext ? window.ngettext(one, many, n) : n === 1 ? one : many);
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

// Poll this often while the socket is down, and now and then even while it is up (the GET is
// also the check-in that keeps a waiting place alive).
const POLL_OFFLINE_MS = 5_000;
const POLL_LIVE_MS = 60_000;
// Each poll at a random point from half to one and a half intervals: thousands of pages that
// joined at the same opening second would otherwise poll at the same second, over and over (the
// benchmark's 1,243 polls at once held admitted buyers' holds up for seconds).
const jittered = (ms) => ms * (0.5 + Math.random());
// Joining goes over the socket when it is open (the server batches those joins: no request
// each), else over HTTP: wait this long for the socket to open, and this long for its answer.
const SOCKET_OPEN_WAIT_MS = 3_000;
const SOCKET_JOIN_WAIT_MS = 10_000;

export function waitText(seconds) {
  if (seconds === null || seconds === undefined) return "";
  if (seconds < 60) return gettext("less than a minute");
  const minutes = Math.round(seconds / 60);
  return fmt(ngettext("about %(count)s minute", "about %(count)s minutes", minutes), { count: minutes });
}

export function statusText(view) {
  switch (view.state) {
    case "waiting":
      if (view.number === null) return gettext("You are in the queue. Your number is drawn when the sale opens.");
      if (view.ahead === 0) return gettext("You are next.");
      return fmt(
        ngettext(
          "%(count)s person ahead of you. Estimated wait: %(wait)s.",
          "%(count)s people ahead of you. Estimated wait: %(wait)s.",
          view.ahead,
        ),
        { count: view.ahead, wait: waitText(view.eta_seconds) || gettext("not known yet") },
      );
    case "admitted":
    case "checking_out":
      return gettext("It is your turn.");
    case "closed":
      return gettext("This event is sold out.");
    case "left":
      return gettext("You left the queue.");
    case "expired":
      return gettext("Your place in the queue lapsed.");
    case "done":
      return gettext("Your turn is over.");
    default:
      return "";
  }
}

function init(root) {
  const status = root.querySelector("[data-queue-status]");
  const numberEl = root.querySelector("[data-queue-number]");
  const servingEl = root.querySelector("[data-queue-serving]");
  const progress = root.querySelector("[data-queue-progress]");
  const closedBox = root.querySelector("[data-queue-closed]");
  const errorEl = root.querySelector("[data-error]");
  const leaveButton = root.querySelector('[data-action="leave-queue"]');
  const joinButton = root.querySelector('[data-action="join-queue"]');
  let view = null;
  let firstServing = null;
  let live = false;
  let lastSpoken = "";
  let socketJoin = null; // { resolve, reject } while a join over the socket awaits its answer
  let socketOpened = null;
  const opened = new Promise((resolve) => {
    socketOpened = resolve;
  });

  const render = () => {
    if (!view) return;
    numberEl.textContent = view.number ?? "…";
    servingEl.textContent = String(view.now_serving);
    if (firstServing === null) firstServing = view.now_serving;
    if (view.number) {
      const span = Math.max(1, view.number - firstServing);
      progress.value = Math.min(1, Math.max(0, (view.now_serving - firstServing) / span));
    }
    const text = statusText(view);
    // The live region speaks only when the words change, not on every number.
    if (text !== lastSpoken) {
      status.textContent = text;
      lastSpoken = text;
    }
    closedBox.hidden = view.state !== "closed";
    leaveButton.hidden = view.state !== "waiting";
    joinButton.hidden = !["left", "expired", "done"].includes(view.state);
    root.dataset.state = view.state;
    if (view.state === "admitted" || view.state === "checking_out") location.reload();
  };

  const take = (answer) => {
    view = answer;
    render();
  };

  const refresh = async () => {
    try {
      take(await api("GET", root.dataset.queueUrl));
    } catch (error) {
      if (error.status !== 404) showError(errorEl, describe(error));
    }
  };

  const joinOverSocket = () =>
    new Promise((resolve, reject) => {
      if (!live || !events.send({ type: "queue.join" })) {
        reject(new ApiError({ code: "NETWORK" }));
        return;
      }
      const timer = setTimeout(() => settle(reject, new ApiError({ code: "NETWORK" })), SOCKET_JOIN_WAIT_MS);
      const settle = (how, value) => {
        clearTimeout(timer);
        socketJoin = null;
        how(value);
      };
      socketJoin = { resolve: (v) => settle(resolve, v), reject: (e) => settle(reject, e) };
    });

  const join = async () => {
    try {
      let answer;
      try {
        await Promise.race([opened, new Promise((r) => setTimeout(r, SOCKET_OPEN_WAIT_MS))]);
        answer = await joinOverSocket();
      } catch (error) {
        if (error.code !== "NETWORK") throw error;
        answer = await api("POST", root.dataset.queueUrl);
      }
      take(answer);
      errorEl.hidden = true;
    } catch (error) {
      if (error.code === "QUEUE_CLOSED") {
        view = { ...(view || { number: null, now_serving: 0 }), state: "closed" };
        render();
      } else if (error.code === "RATE_LIMITED") {
        await refresh();
      } else {
        showError(errorEl, describe(error));
        await refresh();
      }
    }
  };

  const onMessage = (message) => {
    if (message.type === "queue.joined" || message.type === "queue.error") {
      if (!socketJoin) return;
      const { type, created, ...rest } = message;
      if (type === "queue.joined") socketJoin.resolve(rest);
      else socketJoin.reject(new ApiError({ status: 400, ...rest }));
      return;
    }
    if (!view) return;
    if (message.type === "queue.moved") {
      if (message.now_serving <= view.now_serving) return;
      view = { ...view, now_serving: message.now_serving };
      if (view.state === "waiting" && view.number) {
        view.ahead = Math.max(0, view.number - view.now_serving - 1);
        const rate = Number(message.admitted_per_minute) || 0;
        view.eta_seconds = view.ahead === 0 ? 0 : rate > 0 ? Math.round((view.ahead * 60) / rate) : null;
      }
      render();
    } else if (message.type === "queue.admitted") {
      location.reload();
    } else if (message.type === "queue.closed") {
      if (view.state === "waiting") view = { ...view, state: "closed" };
      render();
    } else if (message.type === "stream.resync") {
      refresh();
    }
  };

  const events = connectEvent(root.dataset.wsPath, {
    onMessage,
    onReconnect: refresh,
    onStatus: (state) => {
      live = state === "live";
      if (live) socketOpened();
    },
  });
  const poll = () => {
    refresh().finally(() => setTimeout(poll, jittered(live ? POLL_LIVE_MS : POLL_OFFLINE_MS)));
  };

  leaveButton.addEventListener("click", async () => {
    try {
      take(await api("DELETE", root.dataset.queueUrl));
    } catch (error) {
      showError(errorEl, describe(error));
    }
  });
  joinButton.addEventListener("click", join);
  root.querySelector('[data-action="join-waitlist"]').addEventListener("click", async (event) => {
    try {
      await api("POST", root.dataset.waitlistUrl, { quantity: 1 });
      root.querySelector("[data-waitlist-joined]").hidden = false;
      event.target.hidden = true;
    } catch (error) {
      showError(errorEl, describe(error));
    }
  });
  join().then(() => setTimeout(poll, jittered(live ? POLL_LIVE_MS : POLL_OFFLINE_MS)));
}

function initTurn(el) {
  const offset = clockOffset(el.dataset.serverNow);
  startCountdown(el, el.dataset.expiresAt, { offset, onExpire: () => location.reload() });
}

const root = document.getElementById("queue");
if (root && root.dataset.signedIn === "1") init(root);
const turn = document.querySelector("[data-turn-countdown]");
if (turn) initTurn(turn);
