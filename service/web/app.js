// The drawing pad: strokes on a canvas (Pointer Events), sent as a PNG as drawn; the service does the rest.
"use strict";

(() => {
  const canvas = document.getElementById("canvas");
  const pad = document.getElementById("pad");
  const context = canvas.getContext("2d");
  const seen = document.getElementById("preprocessed").getContext("2d");
  const errorBox = document.getElementById("error");
  const panelsBox = document.getElementById("panels");
  const template = document.getElementById("panel-template");
  const keyInput = document.getElementById("api-key");
  const DEBOUNCE_MS = 150;
  const DEFAULT_MODELS = ["mlp", "cnn"];

  let strokes = [];          // each stroke: [{x, y}, ...] in canvas pixels
  let current = null;        // the stroke being drawn
  let upload = null;         // {blob, type} of an image dropped, pasted or picked, until the next stroke
  let timer = null;
  let inFlight = false;      // never more than one request at a time
  let pending = false;       // something changed while a request was in flight
  let classifiers = [];      // [{name, served_version}] from /models
  const panels = [];         // [{element, select}]

  keyInput.value = localStorage.getItem("digit-serve-api-key") || "";
  keyInput.addEventListener("change", () => {
    localStorage.setItem("digit-serve-api-key", keyInput.value);
    loadModels();
  });

  function headers(extra) {
    const all = Object.assign({}, extra);
    if (keyInput.value) all["X-API-Key"] = keyInput.value;
    return all;
  }

  // ---- drawing ----------------------------------------------------------------------------------
  function redraw() {
    context.clearRect(0, 0, canvas.width, canvas.height);  // transparent: the service flattens it
    if (upload && upload.bitmap) {
      const scale = Math.min(canvas.width / upload.bitmap.width, canvas.height / upload.bitmap.height);
      const w = upload.bitmap.width * scale, h = upload.bitmap.height * scale;
      context.drawImage(upload.bitmap, (canvas.width - w) / 2, (canvas.height - h) / 2, w, h);
    }
    context.strokeStyle = "#000";
    context.lineWidth = 18;
    context.lineCap = "round";
    context.lineJoin = "round";
    for (const stroke of strokes) {
      context.beginPath();
      stroke.forEach((p, i) => (i ? context.lineTo(p.x, p.y) : context.moveTo(p.x, p.y)));
      if (stroke.length === 1) context.lineTo(stroke[0].x + 0.1, stroke[0].y);
      context.stroke();
    }
  }

  function point(event) {
    const box = canvas.getBoundingClientRect();
    return { x: (event.clientX - box.left) * canvas.width / box.width,
             y: (event.clientY - box.top) * canvas.height / box.height };
  }

  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    if (upload) upload.file = null;  // from now on the canvas, as drawn, is the input
    current = [point(event)];
    strokes.push(current);
    redraw();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!current) return;
    event.preventDefault();
    current.push(point(event));
    redraw();
    schedule();
  });
  const finish = () => {
    if (!current) return;
    current = null;
    schedule();
  };
  canvas.addEventListener("pointerup", finish);
  canvas.addEventListener("pointercancel", finish);

  document.getElementById("clear").addEventListener("click", () => {
    strokes = [];
    upload = null;
    redraw();
    showIdle();
  });
  document.getElementById("undo").addEventListener("click", () => {
    strokes.pop();
    redraw();
    if (strokes.length || upload) schedule(); else showIdle();
  });

  // ---- images: picked, dropped or pasted ----------------------------------------------------------
  async function useImage(file) {
    if (!file) return;
    strokes = [];
    upload = { file, bitmap: null };
    try {
      upload.bitmap = await createImageBitmap(file);
    } catch (_) {
      upload.bitmap = null;  // the browser cannot show it; the service may still read it, or say why not
    }
    redraw();
    send();
  }
  document.getElementById("upload").addEventListener("change", (event) => useImage(event.target.files[0]));
  pad.addEventListener("dragover", (event) => { event.preventDefault(); pad.classList.add("dragging"); });
  pad.addEventListener("dragleave", () => pad.classList.remove("dragging"));
  pad.addEventListener("drop", (event) => {
    event.preventDefault();
    pad.classList.remove("dragging");
    useImage(event.dataTransfer.files[0]);
  });
  window.addEventListener("paste", (event) => {
    const item = [...event.clipboardData.items].find((entry) => entry.type.startsWith("image/"));
    if (item) useImage(item.getAsFile());
  });

  // ---- asking the service -------------------------------------------------------------------------
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(send, DEBOUNCE_MS);
  }

  function canvasBlob() {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  }

  async function send() {
    if (inFlight) { pending = true; return; }
    if (!strokes.length && !upload) return;
    inFlight = true;
    try {
      const body = upload && upload.file ? upload.file : await canvasBlob();
      const type = upload && upload.file ? (upload.file.type || "application/octet-stream") : "image/png";
      let shown = false;
      for (const panel of panels) {  // one after the other: one request in flight at most
        const name = panel.select.value;
        const answer = await predict(name, body, type);
        render(panel, name, answer);
        if (!shown && answer.preprocessed) { showPreprocessed(answer.preprocessed); shown = true; }
      }
      clearError();
    } catch (problem) {
      showError(problem.message);
    } finally {
      inFlight = false;
      if (pending) { pending = false; schedule(); }
    }
  }

  async function predict(model, body, type) {
    let response;
    try {
      response = await fetch(`/predict?model=${encodeURIComponent(model)}&preprocessed=true`,
                             { method: "POST", body, headers: headers({ "Content-Type": type }) });
    } catch (_) {
      throw new Error("The service cannot be reached. Is it running? The page will try again on your next stroke.");
    }
    let payload = null;
    try { payload = await response.json(); } catch (_) { /* not JSON: described below */ }
    if (response.ok) return payload.predictions ? Object.assign(payload.predictions[0], payload) : payload;
    const detail = payload && payload.error ? (payload.error.message || payload.error) : response.statusText;
    throw new Error(explain(response.status, detail));
  }

  function explain(status, detail) {
    const words = {
      401: "The service needs an API key: enter it under \u201cAPI key\u201d.",
      413: "That image is too large for the service.",
      415: "That file is not an image the service can read (PNG, JPEG, GIF, BMP, WebP or TIFF).",
      422: "The service found no digit in that image.",
      503: "The service is not ready yet, or busy. Try again in a moment.",
    };
    return `${words[status] || `The service answered ${status}.`} (${detail})`;
  }

  // ---- showing the answers --------------------------------------------------------------------------
  function render(panel, name, answer) {
    const el = panel.element;
    el.querySelector(".digit").textContent = String(answer.label);
    el.querySelector(".confidence").textContent = `confidence ${(answer.confidence * 100).toFixed(1)} %`;
    el.querySelector(".version").textContent = `${name}, version ${answer.version}`;
    const bars = el.querySelector(".bars");
    bars.textContent = "";
    answer.probabilities.forEach((p, digit) => {
      const row = document.createElement("li");
      if (digit === answer.label) row.className = "top";
      const label = document.createElement("span");
      label.textContent = String(digit);
      const bar = document.createElement("span");
      bar.className = "bar";
      bar.style.width = `${Math.max(p * 100, 0.5)}%`;
      const value = document.createElement("span");
      value.textContent = `${(p * 100).toFixed(1)}%`;
      row.append(label, bar, value);
      bars.append(row);
    });
  }

  function showPreprocessed(pixels) {
    const image = seen.createImageData(28, 28);
    pixels.flat(2).forEach((v, i) => {
      const level = Math.round(Math.min(Math.max(v, 0), 1) * 255);
      image.data.set([level, level, level, 255], i * 4);
    });
    seen.putImageData(image, 0, 0);
  }

  function showIdle() {
    seen.fillStyle = "#000";
    seen.fillRect(0, 0, 28, 28);
    for (const panel of panels) {
      panel.element.querySelector(".digit").textContent = "–";
      panel.element.querySelector(".confidence").textContent = "";
      panel.element.querySelector(".bars").textContent = "";
    }
    clearError();
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.textContent = "";
    errorBox.hidden = true;
  }

  // ---- the models the repository serves -------------------------------------------------------------
  function buildPanels() {
    panelsBox.textContent = "";
    panels.length = 0;
    const names = classifiers.map((m) => m.name);
    const chosen = DEFAULT_MODELS.filter((n) => names.includes(n));
    while (chosen.length < Math.min(2, names.length)) chosen.push(names.find((n) => !chosen.includes(n)));
    chosen.forEach((name, index) => {
      const element = template.content.firstElementChild.cloneNode(true);
      const select = element.querySelector("select");
      select.setAttribute("aria-label", `Model for answer ${index + 1}`);
      for (const model of classifiers) {
        const option = document.createElement("option");
        option.value = model.name;
        option.textContent = `${model.name} (v${model.served_version})`;
        select.append(option);
      }
      select.value = name;
      const panel = { element, select };
      const label = () => {
        const current = select.value;
        element.querySelector(".digit").dataset.testid = `prediction-${current}`;
        element.querySelector(".confidence").dataset.testid = `confidence-${current}`;
        const model = classifiers.find((m) => m.name === current);
        element.querySelector(".version").textContent = `${current}, version ${model ? model.served_version : "?"}`;
      };
      select.addEventListener("change", () => { label(); send(); });
      label();
      panels.push(panel);
      panelsBox.append(element);
    });
  }

  async function loadModels() {
    try {
      const response = await fetch("/models", { headers: headers({}) });
      if (!response.ok) {
        const payload = await response.json().catch(() => null);
        throw new Error(explain(response.status, payload && payload.error ? payload.error.message : response.statusText));
      }
      const listed = (await response.json()).models.filter((m) => m.task === "classification");
      const changed = JSON.stringify(listed.map((m) => [m.name, m.served_version])) !==
        JSON.stringify(classifiers.map((m) => [m.name, m.served_version]));
      classifiers = listed.map((m) => ({ name: m.name, served_version: m.served_version }));
      if (changed) buildPanels();
      if (!errorBox.hidden && errorBox.textContent.startsWith("The service cannot")) clearError();
    } catch (problem) {
      showError(problem.message.startsWith("The service") ? problem.message
        : "The service cannot be reached. Is it running? The page keeps trying.");
    }
  }

  showIdle();
  loadModels();
  setInterval(loadModels, 10000);  // a newly loaded version or model appears; the page recovers with the service
})();
