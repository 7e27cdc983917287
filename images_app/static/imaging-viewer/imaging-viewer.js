/*! imaging-viewer.js · 360 Imaging's embeddable spin viewer · no dependencies, no cookies,
 * no storage, no requests beyond the manifest and the images it names.
 *
 *   <div data-imaging-manifest="https://…/manifest.json"></div>
 *   <script src="…/imaging-viewer.js" defer></script>
 *
 * Attributes: data-imaging-manifest (required), data-imaging-intro="off" (no turn on first
 * view; prefers-reduced-motion also turns it off). Containers added later: ImagingViewer.mount(el).
 */
(function (w, d) {
  "use strict";
  var ATTR = "data-imaging-manifest";
  var CSS =
    ":host{display:block}" +
    ".v{position:relative;color:#222;font:14px/1.4 system-ui,sans-serif}" +
    ".v.fs{position:fixed;inset:0;z-index:2147483647;background:#000;display:flex;flex-direction:column}" +
    ".w{position:relative}.fs .w{flex:1;min-height:0}" +
    ".s{position:relative;overflow:hidden;background:#eee;touch-action:pan-y;cursor:grab;" +
    "user-select:none;-webkit-user-select:none;outline-offset:-3px}" +
    ".fs .s{height:100%;aspect-ratio:auto!important;background:#000}" +
    ".s.z{cursor:move;touch-action:none}" +
    ".l{position:absolute;inset:0;transform-origin:0 0}" +
    ".l img{position:absolute;inset:0;width:100%;height:100%;object-fit:contain;-webkit-user-drag:none}" +
    "img.p{filter:blur(10px)}[hidden]{display:none!important}" +
    ".b{position:absolute;right:8px;bottom:8px;display:flex;gap:4px}" +
    "button{font:inherit;border:1px solid #8888;background:#fffe;color:#222;border-radius:4px;" +
    "min-width:34px;height:34px;padding:0 6px;cursor:pointer}" +
    "button:focus-visible,.s:focus-visible{outline:3px solid #1a73e8}" +
    ".t{display:flex;gap:6px;overflow-x:auto;padding:6px 0}.fs .t{padding:6px}" +
    ".t button{flex:none;position:relative;width:80px;height:60px;padding:0;overflow:hidden}" +
    ".t img{width:100%;height:100%;object-fit:cover;display:block}" +
    ".t [aria-current=true]{outline:3px solid #1a73e8;outline-offset:-3px}" +
    ".t span{position:absolute;inset:0;display:grid;place-items:center;color:#fff;" +
    "font-weight:600;text-shadow:0 0 3px #000}" +
    ".m{margin:0;padding:2em 1em;text-align:center;background:#f4f4f4}";
  // A 1x1 lossy WebP: decodes where WebP is supported (no request: a data: URL).
  var WEBP = "data:image/webp;base64,UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA";
  var webp, sheet;

  function el(tag, cls, parent) {
    var e = d.createElement(tag);
    if (cls) e.className = cls;
    if (parent) parent.appendChild(e);
    return e;
  }

  function img(src, cls, alt) {
    var i = el("img", cls);
    i.alt = alt || "";
    i.draggable = false;
    if (src) i.src = src;
    return i;
  }

  function attrs(e, a) {
    for (var k in a) a[k] == null ? e.removeAttribute(k) : e.setAttribute(k, a[k]);
    return e;
  }

  function button(parent, label, text) {
    var b = el("button", "", parent);
    b.type = "button";
    if (label) b.setAttribute("aria-label", label);
    if (text) b.textContent = text;
    return b;
  }

  function mount(host) {
    if (host._imagingViewer) return;
    host._imagingViewer = 1;
    var base = new URL(host.getAttribute(ATTR), d.baseURI).href;
    var root = host.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets && w.CSSStyleSheet) {
      try {
        if (!sheet) (sheet = new CSSStyleSheet()).replaceSync(CSS);
        root.adoptedStyleSheets = [sheet];
      } catch (e) {
        sheet = 0;
      }
    }
    if (!sheet) el("style", "", root).textContent = CSS;
    var v = el("div", "v", root);
    var state = function (s) {
      host.setAttribute("data-state", s);
    };
    var message = function (text, s) {
      v.textContent = "";
      attrs(el("p", "m", v), { role: "status" }).textContent = text;
      state(s);
    };
    state("loading");
    webp =
      webp ||
      new Promise(function (ok) {
        var i = new Image();
        i.onload = function () {
          ok(i.width === 1);
        };
        i.onerror = function () {
          ok(false);
        };
        i.src = WEBP;
      });
    Promise.all([
      fetch(base, { credentials: "omit" }).then(function (r) {
        if (!r.ok) throw r.status;
        return r.json();
      }),
      webp,
    ])
      .then(function (res) {
        build(res[0], res[1] ? "webp" : "jpeg");
      })
      .catch(function () {
        message("The photos could not be loaded.", "error");
      });

    function build(m, fmt) {
      if (m.status === "withdrawn") return message("This vehicle is no longer available.", "withdrawn");
      var spin = m.spin && m.spin.frames && m.spin.frames.length ? m.spin : null;
      var stills = m.stills || [];
      if (!spin && !stills.length) return message("No photos yet.", "empty");
      // Dragging right moves the car's near side right: which way the index goes depends
      // on how the car turns from one frame to the next (seen from above).
      var sign = spin && spin.direction === "clockwise" ? -1 : 1;
      var dpr = w.devicePixelRatio || 1;
      var frames = spin ? spin.frames.map(slot) : [];
      var shots = [];
      var items = frames; // what the stage shows: the spin's frames, or one still
      var idx = 0;
      var still = spin ? -1 : 0;
      var z = { s: 1, x: 0, y: 0 };
      var fs = false;
      var realFs = false;
      var playing = 0;
      var touched = 0;
      var zt;
      var thumbs = [];

      var wrap = el("div", "w", v);
      var stage = attrs(el("div", "s", wrap), { tabindex: "0" });
      var layer = el("div", "l", stage);
      var bar = el("div", "b", wrap);
      var first = spin ? spin.frames[0] : stills[0];
      stage.style.aspectRatio = (first.width || 4) + "/" + (first.height || 3);
      button(bar, "Zoom out", "\u2212").onclick = function () {
        zoom(z.s / 1.5);
      };
      button(bar, "Zoom in", "+").onclick = function () {
        zoom(z.s * 1.5);
      };
      var fsButton = button(bar, "Full screen", "\u2922");
      fsButton.onclick = toggleFs;

      // --- images: each starts as its placeholder and is replaced by a rendition once loaded
      function slot(im) {
        return { im: im, w: 0, shown: 0, el: img(im.placeholder, "p", im.alt) };
      }
      function list(im) {
        var r = im.renditions || im.sources || {};
        return r[fmt] && r[fmt].length ? r[fmt] : r.jpeg || [];
      }
      function pick(im, px) {
        var l = list(im);
        for (var i = 0; i < l.length; i++) if (l[i].width >= px) return l[i];
        return l[l.length - 1];
      }
      function want(s, px, done) {
        var r = pick(s.im, px);
        if (!r || r.width <= s.w) return done && done();
        var width = (s.w = r.width);
        var n = img("", "", s.im.alt);
        n.onload = function () {
          if (width > s.shown) {
            s.shown = width;
            n.hidden = s.el.hidden;
            if (s.el.parentNode) s.el.parentNode.replaceChild(n, s.el);
            s.el = n;
          }
          if (done) done();
        };
        n.onerror = function () {
          if (s.w === width) s.w = s.shown;
          if (done) done();
        };
        n.src = new URL(r.url, base).href;
      }
      // The width the stage needs now: its size on screen, the zoom, the pixel ratio; full
      // screen always takes the largest rendition.
      function need() {
        return fs ? 1e9 : Math.ceil(stage.clientWidth * dpr * z.s);
      }
      function current() {
        return items[still < 0 ? idx : 0];
      }

      // --- the stage
      function mod(i) {
        var n = frames.length;
        return ((i % n) + n) % n;
      }
      function show(i) {
        if (still >= 0) return;
        frames[idx].el.hidden = true;
        idx = i;
        var f = frames[i];
        f.el.hidden = false;
        attrs(stage, {
          "aria-valuenow": i + 1,
          "aria-valuetext": f.im.alt || Math.round(f.im.angle_deg || 0) + "\u00b0",
        });
        if (z.s > 1 || fs) want(f, need());
      }
      function select(j) {
        still = spin ? j : Math.max(0, j);
        zoom(1);
        layer.textContent = "";
        if (still < 0) {
          items = frames;
          frames.forEach(function (f) {
            f.el.hidden = true;
            layer.appendChild(f.el);
          });
          attrs(stage, {
            role: "slider",
            "aria-label": "360\u00b0 view: drag or use the arrow keys to turn the vehicle",
            "aria-valuemin": 1,
            "aria-valuemax": frames.length,
          });
          show(idx);
        } else {
          var s = (shots[still] = shots[still] || slot(stills[still]));
          items = [s];
          s.el.hidden = false;
          layer.appendChild(s.el);
          attrs(stage, {
            role: "group",
            "aria-label": s.im.label || "Photo",
            "aria-valuemin": null,
            "aria-valuemax": null,
            "aria-valuenow": null,
            "aria-valuetext": null,
          });
          want(s, need());
        }
        thumbs.forEach(function (b, k) {
          b.setAttribute("aria-current", k - (spin ? 1 : 0) === still);
        });
      }
      function step(dir) {
        if (still < 0) show(mod(idx + dir * sign));
        else if (stills.length > 1) select((still + dir + stills.length) % stills.length);
      }

      // --- zoom and pan: a transform on the layer, kept inside the stage
      function place(s, x, y) {
        var W = stage.clientWidth;
        var H = stage.clientHeight;
        z.s = s;
        z.x = Math.min(0, Math.max(W - W * s, x));
        z.y = Math.min(0, Math.max(H - H * s, y));
        layer.style.transform = "translate(" + z.x + "px," + z.y + "px) scale(" + s + ")";
        stage.classList.toggle("z", s > 1);
        clearTimeout(zt);
        zt = setTimeout(function () {
          want(current(), need());
        }, 120);
      }
      function zoom(s, px, py) {
        s = Math.max(1, Math.min(4, s));
        if (px == null) {
          px = stage.clientWidth / 2;
          py = stage.clientHeight / 2;
        }
        place(s, px - ((px - z.x) * s) / z.s, py - ((py - z.y) * s) / z.s);
      }
      function toggleFs() {
        var on = !fs;
        if (on && host.requestFullscreen) host.requestFullscreen().catch(function () {});
        if (!on && d.fullscreenElement === host) d.exitFullscreen().catch(function () {});
        setFs(on);
      }
      function setFs(on) {
        fs = on;
        v.classList.toggle("fs", on);
        attrs(fsButton, { "aria-label": on ? "Exit full screen" : "Full screen", "aria-pressed": on });
        zoom(1);
        want(current(), need());
      }
      d.addEventListener("fullscreenchange", function () {
        if (d.fullscreenElement === host) realFs = true;
        else if (realFs) {
          realFs = false;
          if (fs) setFs(false);
        }
      });

      // --- input: pointers (mouse, touch, pen), wheel, keys
      var pointers = {};
      var g;
      function begin() {
        var p = Object.keys(pointers).map(function (k) {
          return pointers[k];
        });
        var r = stage.getBoundingClientRect();
        g = p.length && {
          x: p[0][0],
          y: p[0][1],
          i: idx,
          s: z.s,
          tx: z.x,
          ty: z.y,
          d: p[1] ? Math.hypot(p[1][0] - p[0][0], p[1][1] - p[0][1]) || 1 : 0,
          mx: p[1] ? (p[0][0] + p[1][0]) / 2 - r.left : 0,
          my: p[1] ? (p[0][1] + p[1][1]) / 2 - r.top : 0,
        };
      }
      function stop() {
        playing = 0;
        touched = 1;
      }
      // Any input in the viewer stops (or prevents) the turn on first view.
      v.addEventListener("pointerdown", stop, true);
      v.addEventListener("keydown", stop, true);
      stage.addEventListener("pointerdown", function (e) {
        stage.focus({ preventScroll: true });
        pointers[e.pointerId] = [e.clientX, e.clientY];
        if (stage.setPointerCapture) stage.setPointerCapture(e.pointerId);
        begin();
      });
      stage.addEventListener("pointermove", function (e) {
        if (!pointers[e.pointerId] || !g) return;
        pointers[e.pointerId] = [e.clientX, e.clientY];
        var k = Object.keys(pointers);
        if (k.length > 1 && g.d) {
          var a = pointers[k[0]];
          var b = pointers[k[1]];
          var r = stage.getBoundingClientRect();
          var s = Math.max(1, Math.min(4, (g.s * Math.hypot(b[0] - a[0], b[1] - a[1])) / g.d));
          var mx = (a[0] + b[0]) / 2 - r.left;
          var my = (a[1] + b[1]) / 2 - r.top;
          place(s, mx - ((g.mx - g.tx) * s) / g.s, my - ((g.my - g.ty) * s) / g.s);
        } else if (z.s > 1) {
          place(z.s, g.tx + e.clientX - g.x, g.ty + e.clientY - g.y);
        } else if (still < 0) {
          show(mod(g.i + sign * Math.round((e.clientX - g.x) / (stage.clientWidth / frames.length))));
        }
      });
      function up(e) {
        delete pointers[e.pointerId];
        begin();
      }
      stage.addEventListener("pointerup", up);
      stage.addEventListener("pointercancel", up);
      // The wheel zooms once the viewer is in use (focused, zoomed, full screen) or on a
      // trackpad pinch (ctrlKey): passing over the viewer still scrolls the page.
      stage.addEventListener(
        "wheel",
        function (e) {
          if (!(fs || z.s > 1 || e.ctrlKey || root.activeElement === stage)) return;
          e.preventDefault();
          stop();
          var r = stage.getBoundingClientRect();
          zoom(z.s * Math.exp(-e.deltaY * (e.ctrlKey ? 0.01 : 0.002)), e.clientX - r.left, e.clientY - r.top);
        },
        { passive: false }
      );
      // Keys anywhere in the viewer (the stage, its buttons, the strip): turn, zoom, full screen.
      v.addEventListener("keydown", function (e) {
        var k = e.key;
        if (e.altKey || e.ctrlKey || e.metaKey) return;
        if (k === "ArrowRight" || k === "ArrowLeft") step(k === "ArrowRight" ? 1 : -1);
        else if (k === "+" || k === "=") zoom(z.s * 1.5);
        else if (k === "-") zoom(z.s / 1.5);
        else if (k === "0") zoom(1);
        else if (k === "f") toggleFs();
        else if (k === "Escape" && fs && !realFs) setFs(false);
        else return;
        e.preventDefault();
      });
      w.addEventListener("resize", function () {
        clearTimeout(zt);
        zt = setTimeout(function () {
          if (host.getAttribute("data-state") === "ready") want(current(), need());
        }, 200);
      });

      // --- the thumbnail strip: the spin (its placeholder), then each still
      var strip = stills.length && attrs(el("div", "t", v), { role: "group", "aria-label": "Photos" });
      if (strip && spin) {
        var b = button(strip, "360\u00b0 view");
        b.appendChild(img(spin.frames[0].placeholder, "p"));
        el("span", "", b).textContent = "360\u00b0";
        thumbs.push(b);
        b.onclick = function () {
          select(-1);
        };
      }
      stills.forEach(function (s, j) {
        var b = button(strip);
        b.appendChild(img(s.placeholder, "p", s.label || s.alt));
        b.onclick = function () {
          select(j);
          stage.focus({ preventScroll: true });
        };
        thumbs.push(b);
      });
      function loadThumbs() {
        thumbs.slice(spin ? 1 : 0).forEach(function (b, j) {
          var r = pick(stills[j], 80 * dpr);
          var i = b.firstChild;
          if (!r) return;
          i.onload = function () {
            i.className = "";
          };
          i.loading = "lazy";
          i.src = new URL(r.url, base).href;
        });
      }

      // --- loading: the placeholder now, the first frame at the width the stage needs, then
      // the rest at that width; larger widths only for zoom and full screen.
      select(still);
      state("loading");
      var px = need();
      want(current(), px, function () {
        loadThumbs();
        var left = frames.length - 1;
        if (left <= 0) return ready();
        frames.slice(1).forEach(function (f) {
          want(f, px, function () {
            if (!--left) ready();
          });
        });
      });

      function ready() {
        state("ready");
        var reduce = w.matchMedia && w.matchMedia("(prefers-reduced-motion: reduce)").matches;
        if (touched || !spin || frames.length < 2 || reduce || host.getAttribute("data-imaging-intro") === "off") {
          return host.setAttribute("data-intro", "off");
        }
        // One gentle turn the first time the viewer is on screen; any input stops it.
        playing = 1;
        var seen = new IntersectionObserver(
          function (entries) {
            if (!entries[0].isIntersecting) return;
            seen.disconnect();
            if (!playing) return host.setAttribute("data-intro", "done");
            var start = idx;
            var t0 = 0;
            var turn = function (t) {
              t0 = t0 || t;
              var p = Math.min(1, (t - t0) / 3000);
              var e = p < 0.5 ? 2 * p * p : 1 - Math.pow(2 - 2 * p, 2) / 2;
              if (playing && still < 0) show(mod(start + sign * Math.round(e * frames.length)));
              if (p < 1 && playing) w.requestAnimationFrame(turn);
              else host.setAttribute("data-intro", "done");
            };
            w.requestAnimationFrame(turn);
          },
          { threshold: 0.5 }
        );
        seen.observe(stage);
      }
    }
  }

  function mountAll() {
    Array.prototype.forEach.call(d.querySelectorAll("[" + ATTR + "]"), mount);
  }
  w.ImagingViewer = { mount: mount };
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", mountAll);
  else mountAll();
})(window, document);
