/* The session review page: spin viewer, image preview and selection helpers.
   Plain JavaScript, no dependencies; the page works without it except for these. */
(function () {
  "use strict";

  function readJson(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  // --- preview dialog --------------------------------------------------------------------
  const images = readJson("review-images") || {};
  const dialog = document.getElementById("image-preview");

  function row(label, value) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    const td = document.createElement("td");
    th.textContent = label;
    td.textContent = value;
    tr.append(th, td);
    return tr;
  }

  function openPreview(imageId) {
    const image = images[imageId];
    if (!image || !dialog) return;
    const img = document.getElementById("preview-image");
    if (image.url) {
      img.src = image.url;
      img.alt = image.label;
      img.hidden = false;
    } else {
      img.removeAttribute("src");
      img.hidden = true;
    }
    document.getElementById("preview-title").textContent = image.label + " · " + image.status;
    const body = document.querySelector("#preview-table tbody");
    body.replaceChildren();
    body.append(row("File", image.file_name));
    if (image.width && image.height) body.append(row("Size", image.width + " × " + image.height));
    const exif = image.exif || {};
    const exifRows = [["ISO", exif.iso], ["Shutter", exif.shutter], ["Aperture", exif.aperture], ["Taken", exif.timestamp]];
    let anyExif = false;
    for (const [label, value] of exifRows) {
      if (value !== null && value !== undefined && value !== "") {
        body.append(row(label, String(value)));
        anyExif = true;
      }
    }
    if (!anyExif) body.append(row("EXIF", "none"));
    const qc = image.qc || {};
    if (qc.sharpness) body.append(row("Sharpness", qc.sharpness.score + " (" + qc.sharpness.status + ")"));
    if (qc.exposure) {
      const e = qc.exposure;
      const detail = e.mean !== undefined ? " · mean " + e.mean + ", shadows " + e.clipped_shadows + ", highlights " + e.clipped_highlights : "";
      body.append(row("Exposure", e.status + detail));
    }
    if (image.error) body.append(row("Error", image.error));
    document.getElementById("preview-change-link").href = image.change_url;
    document.getElementById("preview-events-link").href = image.events_url;
    dialog.dataset.imageId = imageId;
    if (!dialog.open) dialog.showModal();
  }

  document.querySelectorAll("[data-preview]").forEach(function (button) {
    button.addEventListener("click", function () { openPreview(button.dataset.preview); });
  });
  if (dialog) {
    // A click on the backdrop closes the preview.
    dialog.addEventListener("click", function (event) { if (event.target === dialog) dialog.close(); });
  }

  // --- selection helpers and confirmations ----------------------------------------------
  document.querySelectorAll("[data-select]").forEach(function (button) {
    button.addEventListener("click", function () {
      const mode = button.dataset.select;
      document.querySelectorAll(".image-card").forEach(function (card) {
        const box = card.querySelector('input[name="image"]');
        if (!box || box.disabled) return;
        const processed = card.dataset.status === "processed";
        box.checked = mode === "processed" ? processed : mode === "passed" ? processed && card.dataset.qc !== "fail" : false;
      });
    });
  });
  document.querySelectorAll("[data-confirm]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  // --- keyboard review: ← → move, a reason key rejects, p publishes -----------------------
  const grid = document.getElementById("image-grid");
  const form = document.getElementById("review-actions");
  const cards = Array.from(document.querySelectorAll(".image-card"));
  const rejectKeys = {};
  ((grid && grid.dataset.rejectKeys) || "").trim().split(/\s+/).forEach(function (pair) {
    const [key, reason] = pair.split("=");
    if (key && reason) rejectKeys[key] = reason;
  });
  const publishKey = grid ? grid.dataset.publishKey : undefined;
  let cursor = -1;

  function point(index) {
    if (cards.length === 0) return;
    cursor = Math.max(0, Math.min(cards.length - 1, index));
    cards.forEach(function (card) { card.classList.remove("current"); });
    const card = cards[cursor];
    card.classList.add("current");
    card.focus({ preventScroll: true });
    card.scrollIntoView({ block: "nearest" });
    grid.dataset.current = card.dataset.imageId;
    // The reasons QC points at are pre-selected for the current image.
    const suggested = (card.dataset.suggested || "").split(" ");
    document.querySelectorAll('#reject-tools input[name="reasons"]').forEach(function (box) {
      box.checked = suggested.includes(box.value);
    });
  }

  function submitFor(card, action, reason) {
    document.querySelectorAll('.image-card input[name="image"]').forEach(function (box) {
      box.checked = box.value === card.dataset.imageId;
    });
    if (reason) {
      document.querySelectorAll('#reject-tools input[name="reasons"]').forEach(function (box) {
        box.checked = box.value === reason;
      });
    }
    const next = cards[cursor + 1] || card;
    document.getElementById("review-next").value = next.dataset.imageId;
    const hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "action";
    hidden.value = action;
    form.append(hidden);
    form.submit();
  }

  cards.forEach(function (card, index) {
    card.addEventListener("click", function (event) {
      if (event.target.closest("input, button")) return;
      point(index);
    });
  });

  document.addEventListener("keydown", function (event) {
    if (!grid || cards.length === 0 || event.ctrlKey || event.metaKey || event.altKey) return;
    if (dialog && dialog.open && event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, #spin-viewer")) return;
    const card = cards[cursor];
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      event.preventDefault();
      point(cursor < 0 ? 0 : cursor + (event.key === "ArrowRight" ? 1 : -1));
      if (dialog && dialog.open) openPreview(cards[cursor].dataset.imageId);
    } else if (card && event.key === "Enter") {
      event.preventDefault();
      openPreview(card.dataset.imageId);
    } else if (card && event.key in rejectKeys) {
      const box = card.querySelector('input[name="image"]');
      if (!box || box.disabled) return;
      event.preventDefault();
      submitFor(card, "reject_selected", rejectKeys[event.key]);
    } else if (card && publishKey && event.key === publishKey) {
      event.preventDefault();
      submitFor(card, "publish_selected", null);
    }
  });

  // Back after an action: the image to look at next, from the address's #image-….
  if (location.hash.startsWith("#image-")) {
    const at = cards.findIndex(function (card) { return "#" + card.id === location.hash; });
    if (at >= 0) point(at);
  }

  // --- spin viewer ------------------------------------------------------------------------
  const frames = readJson("spin-frames") || [];
  const stage = document.getElementById("spin-viewer");
  if (!stage || frames.length === 0) return;
  const picture = document.getElementById("spin-image");
  const slider = document.getElementById("spin-slider");
  const angle = document.getElementById("spin-angle");
  const status = document.getElementById("spin-frame-status");
  const loading = document.getElementById("spin-loading");
  const cells = new Map();
  document.querySelectorAll("#coverage .slot").forEach(function (cell) {
    cells.set(Number(cell.dataset.index), cell);
  });
  const positionOfFrame = new Map(frames.map(function (frame, position) { return [frame.index, position]; }));
  let current = 0;

  function show(position) {
    const count = frames.length;
    current = ((position % count) + count) % count;
    const frame = frames[current];
    picture.src = frame.url;
    picture.alt = "Spin frame at " + frame.angle + "°";
    stage.dataset.frame = String(current);
    stage.dataset.angle = String(frame.angle);
    slider.value = String(current);
    angle.textContent = frame.angle + "°";
    status.textContent = frame.status + (frame.qc && frame.qc !== "pass" ? " · QC " + frame.qc : "");
    status.className = "badge status-" + frame.status + (frame.qc ? " qc-" + frame.qc : "");
    cells.forEach(function (cell) { cell.classList.remove("current"); });
    const cell = cells.get(frame.index);
    if (cell) cell.classList.add("current");
  }

  // Preload every frame so turning never waits on the network.
  let loaded = 0;
  frames.forEach(function (frame) {
    const preload = new Image();
    preload.onload = preload.onerror = function () {
      loaded += 1;
      loading.textContent = loaded < frames.length ? "Loading frames " + loaded + "/" + frames.length : "";
      stage.dataset.loaded = String(loaded);
    };
    preload.src = frame.url;
  });

  // Dragging across the whole viewer turns the car once.
  let drag = null;
  stage.addEventListener("pointerdown", function (event) {
    if (event.button !== 0) return;
    drag = { x: event.clientX, from: current, moved: false };
    stage.setPointerCapture(event.pointerId);
    stage.classList.add("dragging");
    stage.focus();
  });
  stage.addEventListener("pointermove", function (event) {
    if (!drag) return;
    const step = Math.max(2, stage.clientWidth / frames.length);
    const delta = Math.trunc((event.clientX - drag.x) / step);
    if (delta !== 0) drag.moved = true;
    show(drag.from + delta);
  });
  function endDrag(event) {
    if (!drag) return;
    const wasClick = !drag.moved && event.type === "pointerup";
    drag = null;
    stage.classList.remove("dragging");
    if (wasClick) openPreview(frames[current].image_id);
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  stage.addEventListener("keydown", function (event) {
    const moves = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: frames.length - 1 };
    if (event.key in moves) {
      event.preventDefault();
      show(moves[event.key]);
    } else if (event.key === "Enter") {
      openPreview(frames[current].image_id);
    }
  });
  slider.addEventListener("input", function () { show(Number(slider.value)); });

  cells.forEach(function (cell, index) {
    if (!positionOfFrame.has(index)) return;
    cell.dataset.hasFrame = "";
    cell.addEventListener("click", function () { show(positionOfFrame.get(index)); stage.focus(); });
  });

  show(0);
})();
