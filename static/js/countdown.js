// A countdown to a server-given instant. The page also carries the server's "now", so a
// wrong clock on the buyer's device does not shorten or stretch the time shown.

const gettext = (text) => (window.gettext ? window.gettext(text) : text);
const ngettext = (one, many, n) => (window.ngettext ? window.ngettext(one, many, n) : n === 1 ? one : many);
const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (_, key) => String(values[key]));

// Screen readers are told politely when this much time is left (seconds), once each.
export const WARNINGS = [120, 30];

export function clockOffset(serverNowIso) {
  const serverNow = Date.parse(serverNowIso);
  return Number.isFinite(serverNow) ? serverNow - Date.now() : 0;
}

// Whole seconds left, rounded up: 4:59.2 shows (and says) 5:00, so text and label agree.
function secondsLeft(ms) {
  return Math.max(0, Math.ceil(ms / 1000));
}

export function format(ms) {
  const total = secondsLeft(ms);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return `${String(minutes).padStart(2, "0")}:${String(seconds).padStart(2, "0")}`;
}

// "4 minutes 59 seconds", "1 minute", "30 seconds": the spoken form of format().
export function spoken(ms) {
  const total = secondsLeft(ms);
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  const parts = [];
  if (minutes) parts.push(fmt(ngettext("%(count)s minute", "%(count)s minutes", minutes), { count: minutes }));
  if (seconds || !minutes) parts.push(fmt(ngettext("%(count)s second", "%(count)s seconds", seconds), { count: seconds }));
  return parts.join(" ");
}

export function startCountdown(el, expiresAtIso, { offset = 0, onExpire, onTick, warningEl = null } = {}) {
  let expiresAt = Date.parse(expiresAtIso);
  let timer = null;
  let done = false;
  // Thresholds already passed when the page opened are not announced late.
  let warned = new Set(WARNINGS.filter((s) => expiresAt - (Date.now() + offset) <= s * 1000));
  const tick = () => {
    const left = expiresAt - (Date.now() + offset);
    el.textContent = format(left);
    el.setAttribute("aria-label", fmt(gettext("%(time)s left"), { time: spoken(left) }));
    el.classList.toggle("urgent", left < 60_000);
    if (warningEl && left > 0) {
      const due = WARNINGS.filter((s) => left <= s * 1000 && !warned.has(s));
      if (due.length) {
        for (const s of due) warned.add(s);
        warningEl.textContent = fmt(gettext("%(time)s left to complete your purchase."), {
          time: spoken(Math.min(...due) * 1000),
        });
      }
    }
    if (onTick) onTick(left);
    if (left <= 0 && !done) {
      done = true;
      clearInterval(timer);
      if (onExpire) onExpire();
    }
  };
  timer = setInterval(tick, 250);
  tick();
  return {
    update(newExpiresAtIso) {
      expiresAt = Date.parse(newExpiresAtIso);
      // More time: the warnings may be due again.
      const left = expiresAt - (Date.now() + offset);
      warned = new Set([...warned].filter((s) => left <= s * 1000));
      if (done) {
        done = false;
        timer = setInterval(tick, 250);
      }
      tick();
    },
    stop() {
      clearInterval(timer);
      done = true;
    },
  };
}
