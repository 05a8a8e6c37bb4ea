// The drawing pad: strokes on a canvas (Pointer Events), sent as a PNG as drawn; the service does the rest.
// Two modes: one digit (/predict, every classifier) or a whole number (/read, each digit boxed over the pad).
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
  const boxes = document.getElementById("boxes");
  const boxContext = boxes.getContext("2d");
  const noticeBox = document.getElementById("notice");
  const readingBox = document.getElementById("reading");
  const correctForm = document.getElementById("correct");
  const correctInput = document.getElementById("correct-input");
  const correctStatus = correctForm.querySelector("[data-testid=correct-status]");
  const DEBOUNCE_MS = 150;
  const DEFAULT_MODELS = ["mlp", "cnn"];
  const DIGITS = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
  const SIZES = { digit: [280, 280], read: [560, 240] };  // canvas pixels per mode

  let mode = "digit";        // "digit": /predict; "read": /read

  let strokes = [];          // each stroke: [{x, y}, ...] in canvas pixels
  let current = null;        // the stroke being drawn
  let upload = null;         // {blob, type} of an image dropped, pasted or picked, until the next stroke
  let timer = null;
  let inFlight = false;      // never more than one request at a time
  let pending = false;       // something changed while a request was in flight
  let classifiers = [];      // [{name, served_version}] from /models
  let answered = null;       // the last image answered: {body, type, requestId, model, version}, for a correction
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
      upload.placement = { scale, x: (canvas.width - w) / 2, y: (canvas.height - h) / 2 };
      context.drawImage(upload.bitmap, upload.placement.x, upload.placement.y, w, h);
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
    clearBoxes();
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
    clearBoxes();
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
      if (mode === "read") {
        const answer = await ask("/read?model=" + encodeURIComponent(readerName()), body, type);
        renderReading(answer);
        offerCorrection({ body, type, requestId: answer.requestId, model: answer.model, version: answer.version });
        clearError();
        return;
      }
      let shown = false;
      const doubts = [];
      let first = null;
      for (const panel of panels) {  // one after the other: one request in flight at most
        const name = panel.select.value;
        const answer = await predict(name, body, type);
        render(panel, name, answer);
        if (!first) first = { body, type, requestId: answer.requestId, model: name, version: answer.version };
        if (answer.is_digit === false) doubts.push(name);
        if (!shown && answer.preprocessed) { showPreprocessed(answer.preprocessed); shown = true; }
      }
      showNotice(doubts.length ? "This does not look like a digit: the answers below are only the models' " +
        "closest guesses." : "");
      if (first) offerCorrection(first);
      clearError();
    } catch (problem) {
      showError(problem.message);
    } finally {
      inFlight = false;
      if (pending) { pending = false; schedule(); }
    }
  }

  async function predict(model, body, type) {
    const payload = await ask(`/predict?model=${encodeURIComponent(model)}&preprocessed=true`, body, type);
    return payload.predictions ? Object.assign(payload.predictions[0], payload) : payload;
  }

  async function ask(path, body, type) {
    let response;
    try {
      response = await fetch(path, { method: "POST", body, headers: headers({ "Content-Type": type }) });
    } catch (_) {
      throw new Error("The service cannot be reached. Is it running? The page will try again on your next stroke.");
    }
    let payload = null;
    try { payload = await response.json(); } catch (_) { /* not JSON: described below */ }
    if (response.ok) {
      if (payload && typeof payload === "object") payload.requestId = response.headers.get("X-Request-ID");
      return payload;
    }
    const detail = payload && payload.error ? (payload.error.message || payload.error) : response.statusText;
    throw new Error(explain(response.status, detail));
  }

  function explain(status, detail) {
    const words = {
      401: "The service needs an API key: enter it under \u201cAPI key\u201d.",
      400: "The service did not take that.",
      403: "The service does not take that here (corrections need FEEDBACK_DIR on the server).",
      413: "That image is too large for the service.",
      415: "That file is not an image the service can read (PNG, JPEG, GIF, BMP, WebP or TIFF).",
      422: "The service found no digit in that image.",
      503: "The service is not ready yet, or busy. Try again in a moment.",
      507: "The service keeps no more corrections: its store is full.",
    };
    return `${words[status] || `The service answered ${status}.`} (${detail})`;
  }

  // ---- a correction (POST /feedback) ----------------------------------------------------------------
  function offerCorrection(what) {
    answered = what;
    correctForm.hidden = false;
    correctInput.value = "";
    correctInput.placeholder = mode === "read" ? "the right number, e.g. 12.50" : "the right digit";
    correctStatus.textContent = "";
  }

  function hideCorrection() {
    answered = null;
    correctForm.hidden = true;
  }

  correctForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!answered) return;
    const value = correctInput.value.trim();
    const query = new URLSearchParams({ [mode === "read" ? "text" : "label"]: value });
    if (answered.requestId) query.set("request_id", answered.requestId);
    if (answered.model) query.set("model", answered.model);
    if (answered.version) query.set("version", String(answered.version));
    try {
      const stored = await ask(`/feedback?${query}`, answered.body, answered.type);
      correctStatus.textContent = stored.duplicate ? `Already kept (correction ${stored.id}).` :
        `Thank you: kept as correction ${stored.id}.`;
    } catch (problem) {
      correctStatus.textContent = problem.message;
    }
  });

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

  // ---- reading a number ------------------------------------------------------------------------------
  function readerName() {
    const cnn = classifiers.find((m) => m.name === "cnn");
    return cnn ? "cnn" : (classifiers[0] ? classifiers[0].name : "cnn");
  }

  function renderReading(answer) {
    readingBox.querySelector("[data-testid=reading-text]").textContent = answer.text;
    readingBox.querySelector("[data-testid=reading-confidence]").textContent =
      `confidence ${(answer.confidence * 100).toFixed(1)} % (${answer.model}, version ${answer.version})`;
    const list = readingBox.querySelector("[data-testid=reading-digits]");
    list.textContent = "";
    clearBoxes();
    const rejected = [];
    const marks = answer.characters || answer.digits;
    marks.forEach((mark, index) => {
      const item = document.createElement("li");
      if (mark.kind === "separator") {
        item.textContent = `${mark.label} (separator)`;
      } else {
        item.textContent = `${mark.label}: ${(mark.confidence * 100).toFixed(1)} %`;
      }
      if (mark.is_digit === false) {
        item.className = "not-digit";
        item.textContent += mark.kind === "unknown" ? " (not a digit or a separator)" : " (not sure it is a digit)";
        rejected.push(index + 1);
      }
      list.append(item);
      drawBox(mark);
    });
    const readable = marks.filter((mark) => mark.kind !== "separator");
    if (readable.length && rejected.length === readable.length) {
      showNotice("This does not look like a number: no mark in it reads as a digit.");
    } else if (rejected.length) {
      showNotice(`Not every mark is a digit: mark ${rejected.join(", ")} (counting from the left, line by line) does not look like one.`);
    } else if (answer.is_number === false) {
      showNotice("These marks do not make a number: a separator is where no number has one.");
    } else {
      showNotice("");
    }
  }

  function drawBox(digit) {
    // Boxes are in pixels of the image sent: the canvas itself, or an upload as placed on it.
    const place = upload && upload.file && upload.placement ? upload.placement : { scale: 1, x: 0, y: 0 };
    const [x, y, w, h] = digit.box;
    const left = place.x + x * place.scale, top = place.y + y * place.scale;
    boxContext.lineWidth = 2;
    boxContext.strokeStyle = digit.is_digit === false ? "#b91c1c" : "#1d4ed8";
    boxContext.fillStyle = boxContext.strokeStyle;
    boxContext.setLineDash(digit.is_digit === false ? [6, 4] : []);
    boxContext.strokeRect(left, top, w * place.scale, h * place.scale);
    boxContext.font = "bold 16px system-ui, sans-serif";
    boxContext.fillText(String(digit.label), left, Math.max(14, top - 4));
  }

  function clearBoxes() {
    boxContext.clearRect(0, 0, boxes.width, boxes.height);
  }

  function setMode(chosen) {
    mode = chosen;
    const [width, height] = SIZES[mode];
    canvas.width = boxes.width = width;
    canvas.height = boxes.height = height;
    pad.classList.toggle("wide", mode === "read");
    document.querySelector("main").classList.toggle("reading-mode", mode === "read");
    document.getElementById("input-noun").textContent = mode === "read" ? "number" : "digit";
    readingBox.hidden = mode !== "read";
    document.querySelector(".seen").hidden = mode === "read";
    document.querySelector(".answers").hidden = mode === "read";
    canvas.setAttribute("aria-label", `Drawing area: draw a ${mode === "read" ? "number" : "digit"} with a mouse, ` +
      "finger or pen, or drop an image here");
    strokes = [];
    upload = null;
    redraw();
    showIdle();
  }
  for (const radio of document.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", () => { if (radio.checked) setMode(radio.value); });
  }

  function showNotice(message) {
    noticeBox.textContent = message;
    noticeBox.hidden = !message;
  }

  function showIdle() {
    hideCorrection();
    clearBoxes();
    showNotice("");
    readingBox.querySelector("[data-testid=reading-text]").textContent = "–";
    readingBox.querySelector("[data-testid=reading-confidence]").textContent = "";
    readingBox.querySelector("[data-testid=reading-digits]").textContent = "";
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
      // The digit classifiers (not the isdigit model, whose labels are not digits).
      const listed = (await response.json()).models.filter((m) => m.task === "classification" &&
        JSON.stringify(m.labels) === JSON.stringify(DIGITS));
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
