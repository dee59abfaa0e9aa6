// Check-in at the gate: scan a ticket's QR code with the camera, or type its code.
// Decoding uses the browser's BarcodeDetector where it reads QR codes (Chrome on Android,
// macOS, ChromeOS), else the vendored jsQR (static/vendor/jsqr/). Each scan posts to
// /staff/checkin/scan and the answer is shown big, coloured, and with a sound:
// green + one high beep admits, amber (already used) or red (void, unknown, wrong event)
// + two low beeps refuses. Without script the form posts and the page shows the answer.
"use strict";

(() => {
  const root = document.getElementById("checkin");
  if (!root) return;
  const form = root.querySelector("[data-checkin-form]");
  const resultBox = root.querySelector("[data-result]");
  const camera = root.querySelector("[data-camera]");
  const video = root.querySelector("[data-video]");
  const frame = root.querySelector("[data-frame]");
  const state = root.querySelector("[data-camera-state]");
  const startButton = root.querySelector("[data-camera-start]");
  const stopButton = root.querySelector("[data-camera-stop]");
  // A code held in front of the camera is one scan: it counts again only after it has been
  // out of view this long (or another code was scanned in between).
  const GONE_MS = 1500;
  let stream = null;
  let detector = null;
  let timer = null;
  let busy = false;
  let last = { code: "", seenAt: 0 };
  let audio = null;

  function beep(ok) {
    try {
      audio = audio || new AudioContext();
      const tones = ok ? [[880, 0, 0.18]] : [[220, 0, 0.18], [220, 0.25, 0.18]];
      for (const [freq, start, length] of tones) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.frequency.value = freq;
        osc.type = ok ? "sine" : "square";
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(audio.currentTime + start);
        osc.stop(audio.currentTime + start + length);
      }
    } catch {
      // No sound is no reason to stop scanning: the colour says it too.
    }
  }

  function show(body, ok) {
    const box = document.createElement("div");
    const used = body.code === "TICKET_ALREADY_USED";
    box.className = `card checkin-result ${ok ? "admitted" : "refused"}${used ? " used" : ""}`;
    box.setAttribute("role", ok ? "status" : "alert");
    box.dataset.outcome = ok ? "admitted" : body.code;
    const head = document.createElement("p");
    head.className = ok ? "ok" : "error";
    head.textContent = ok ? `ADMIT — ${body.extra.seat}` : `DO NOT ADMIT — ${body.message}`;
    const detail = document.createElement("p");
    detail.className = "muted";
    detail.textContent = ok
      ? `Ticket ${body.extra.ticket_id} checked in ${body.extra.used_at}${body.extra.gate ? ` at ${body.extra.gate}` : ""}.`
      : body.code;
    box.append(head, detail);
    resultBox.replaceChildren(box);
    beep(ok);
  }

  async function submit(code) {
    if (busy) return;
    busy = true;
    const data = new FormData(form);
    data.set("code", code);
    try {
      const response = await fetch(root.dataset.scanUrl, {
        method: "POST",
        body: data,
        headers: { "X-CSRFToken": data.get("csrfmiddlewaretoken") },
        credentials: "same-origin",
      });
      const body = await response.json().catch(() => ({ code: "ERROR", message: `The server answered ${response.status}.` }));
      show(body, response.ok);
    } catch {
      show({ code: "NETWORK", message: "No connection to the server: try again." }, false);
    } finally {
      busy = false;
    }
  }

  // Typed codes go the same way when script runs; the plain form post is the fallback.
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.elements.code;
    const code = input.value.trim();
    if (!code) return;
    submit(code).then(() => {
      input.value = "";
      input.focus();
    });
  });

  async function decode() {
    if (!video.videoWidth) return null;
    if (detector) {
      const found = await detector.detect(video);
      return found.length ? found[0].rawValue : null;
    }
    const scale = Math.min(1, 640 / video.videoWidth);
    frame.width = Math.round(video.videoWidth * scale);
    frame.height = Math.round(video.videoHeight * scale);
    const ctx = frame.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(video, 0, 0, frame.width, frame.height);
    const image = ctx.getImageData(0, 0, frame.width, frame.height);
    const found = window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
    return found ? found.data : null;
  }

  async function tick() {
    if (!stream) return;
    try {
      const code = (await decode())?.trim();
      const now = Date.now();
      if (code) {
        const again = code === last.code && now - last.seenAt < GONE_MS;
        last = { code, seenAt: now };
        if (!again) await submit(code);
      }
    } catch (err) {
      state.textContent = `Scanner error: ${err.message}`;
    }
    timer = setTimeout(tick, 150);
  }

  async function start() {
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
    } catch (err) {
      state.textContent = `No camera (${err.name}): type the code below.`;
      return;
    }
    if ("BarcodeDetector" in window) {
      const formats = await window.BarcodeDetector.getSupportedFormats().catch(() => []);
      if (formats.includes("qr_code")) detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    }
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    startButton.hidden = true;
    stopButton.hidden = false;
    state.textContent = `Scanning (${detector ? "built-in detector" : "jsQR"})…`;
    camera.dataset.scanning = "1";
    tick();
  }

  function stop() {
    clearTimeout(timer);
    for (const track of stream?.getTracks() || []) track.stop();
    stream = null;
    video.hidden = true;
    startButton.hidden = false;
    stopButton.hidden = true;
    state.textContent = "";
    delete camera.dataset.scanning;
  }

  if (navigator.mediaDevices?.getUserMedia) {
    camera.hidden = false;
    startButton.addEventListener("click", start);
    stopButton.addEventListener("click", stop);
  }
})();
