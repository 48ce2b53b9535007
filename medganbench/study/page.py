"""The reader's page: one self-contained ``reader/index.html`` (inline CSS and script, no network,
no CDN) that shows a study's images one at a time and hands back the reader's answers.

The page is a fixed template plus one data block, ``<script type="application/json"
id="study">``: the study's manifest (:meth:`~medganbench.study.formats.StudyManifest.to_json`:
trial ids and image paths, nothing else) and its signature
(:func:`~medganbench.study.formats.manifest_sha256`, computed here at build time; the page
computes no hash). The template does not depend on the study, so nothing in the page can say
which image is real: the answer key never reaches it. The manifest is embedded rather than
fetched because Chromium refuses ``fetch`` from ``file://`` pages, and readers open the page
from disk.

What the reader does (also written on the page):

- gives a name or reader code, then sees trial k of N with a progress bar;
- answers Real (``R``) or Synthetic (``S``), and a confidence ``1`` … ``confidence_levels``
  (digit keys; 1 = guessing, the highest = certain), required; where the study asks for
  quality, a quality ``1`` … ``quality_levels`` too (``Shift`` + digit, or ``Q`` then a
  digit), required; then Next (``Enter``). There is no going back (first impressions count).
  The time from the image appearing to Next is recorded in milliseconds;
- at the end, downloads ``answers-<reader>-<first 12 hex of the signature>.json``: exactly
  :meth:`~medganbench.study.formats.ReaderAnswers.to_json`'s layout.

Answers are kept in the browser's ``localStorage`` under the study's signature after every
trial, so a reload (or a crash) resumes where the reader was.
"""

from __future__ import annotations

import html
import json
import re

from medganbench.study.formats import StudyManifest

#: The ``localStorage`` key's prefix (the study's signature follows it).
STORAGE_PREFIX = "medganbench-study-"
#: How many hex digits of the signature the answers file's name carries.
SHORT_SHA = 12
_TOKEN = re.compile(r"@(TITLE|STYLE|SCRIPT|DATA)@")


def study_data(manifest: StudyManifest, study_sha256: str) -> dict[str, object]:
    """What the page's data block holds: the manifest and its signature, nothing else."""
    return {"study_sha256": study_sha256, "manifest": manifest.to_json()}


def render_page(manifest: StudyManifest, study_sha256: str) -> str:
    """The study's ``index.html``: the fixed template, the title, and the data block."""
    data = json.dumps(study_data(manifest, study_sha256), sort_keys=True, indent=1)
    # JSON inside <script>: "<", ">" and "&" as escapes, so no title can close the element.
    for char, escape in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        data = data.replace(char, escape)
    parts = {"TITLE": html.escape(manifest.title), "STYLE": _STYLE, "SCRIPT": _SCRIPT, "DATA": data}
    # One pass: what is put in is never scanned again (a title may hold "@DATA@").
    return _TOKEN.sub(lambda match: parts[match.group(1)], _TEMPLATE)


_STYLE = """
:root { color-scheme: dark; }
body { margin: 0; background: #1b1b1b; color: #e8e8e8; font: 16px/1.45 system-ui, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; text-align: center; }
h1 { font-size: 1.4rem; margin: .5rem 0 1rem; }
p, table { text-align: left; }
table { margin: 1rem auto; border-collapse: collapse; }
td { padding: .15rem .8rem; }
kbd { border: 1px solid #777; border-radius: 3px; padding: 0 .3rem; font-size: .85em; }
button { font: inherit; color: inherit; background: #333; border: 2px solid #555;
  border-radius: 6px; padding: .4rem 1rem; margin: .2rem; cursor: pointer; }
button[aria-pressed="true"] { background: #2d5f8a; border-color: #7cb8ea; }
button:disabled { opacity: .4; cursor: default; }
input { font: inherit; padding: .3rem; margin: .5rem; }
.progress { display: flex; align-items: center; gap: 1rem; margin-bottom: .5rem; }
.bar { flex: 1; height: .5rem; background: #333; border-radius: 4px; overflow: hidden; }
#progress-bar { height: 100%; width: 0; background: #7cb8ea; }
#stage { min-height: 3rem; margin: .5rem 0; }
#image { background: #000; }
.scale > span { display: inline-block; min-width: 8rem; }
.ends { font-size: .85em; color: #aaa; }
#hint { min-height: 1.5em; color: #f0c36b; }
"""

_SCRIPT = r"""
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("study").textContent);
  const sha = data.study_sha256;
  const manifest = data.manifest;
  const trials = manifest.trials;
  const levels = manifest.confidence_levels;
  const qualities = manifest.quality_levels;
  const storeKey = "@PREFIX@" + sha;
  const $ = (id) => document.getElementById(id);

  function load() {
    try {
      const saved = JSON.parse(window.localStorage.getItem(storeKey) || "null");
      if (!saved || typeof saved.reader !== "string" || !Array.isArray(saved.answers)) return null;
      // Resume only answers to this study's trials, in its order.
      const same = saved.answers.every((a, i) => i < trials.length && a.trial === trials[i].id);
      return same ? saved : null;
    } catch (e) {
      return null;
    }
  }
  function save() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(state));
    } catch (e) {
      // Storage disabled (a private window): the study still runs, without resume.
    }
  }

  let state = load() || { reader: "", answers: [] };
  let pending = null;
  let qualityArmed = false;

  function show(screen) {
    for (const name of ["start", "trial", "done"]) $(name).hidden = name !== screen;
  }
  function hint(text) { $("hint").textContent = text; }

  function scale(container, count, kind) {
    for (let n = 1; n <= count; n++) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = String(n);
      b.dataset.level = String(n);
      b.addEventListener("click", () => (kind === "confidence" ? setConfidence : setQuality)(n));
      container.appendChild(b);
    }
  }

  function fit(img) {
    // As large as fits, by whole multiples (pixelated) when the image is smaller than the room.
    const below = qualities ? 350 : 300;  // the controls under the image
    const room = Math.max(64, Math.min(window.innerWidth * 0.92, window.innerHeight - below));
    const w = img.naturalWidth, h = img.naturalHeight;
    let k = Math.min(room / w, room / h);
    if (k >= 1) k = Math.floor(k);
    img.style.imageRendering = k >= 1 ? "pixelated" : "auto";
    img.style.width = w * k + "px";
    img.style.height = h * k + "px";
  }

  function refresh() {
    for (const b of document.querySelectorAll("[data-answer]"))
      b.setAttribute("aria-pressed", String(pending.answer === b.dataset.answer));
    for (const b of $("confidence-levels").children)
      b.setAttribute("aria-pressed", String(pending.confidence === +b.dataset.level));
    for (const b of $("quality-levels").children)
      b.setAttribute("aria-pressed", String(pending.quality === +b.dataset.level));
    $("next").disabled = !complete();
  }
  function complete() {
    return pending.shownAt !== null && pending.answer !== null && pending.confidence !== null &&
      (qualities === 0 || pending.quality !== null);
  }

  function showTrial() {
    const k = state.answers.length;
    if (k >= trials.length) return finish();
    show("trial");
    const mine = { answer: null, confidence: null, quality: null, shownAt: null };
    pending = mine;
    $("progress-text").textContent = "Trial " + (k + 1) + " of " + trials.length;
    $("progress-bar").style.width = (100 * k) / trials.length + "%";
    const img = $("image");
    img.style.visibility = "hidden";
    img.onload = () => {
      fit(img);
      img.style.visibility = "visible";
      mine.shownAt = performance.now();
      refresh();
    };
    img.onerror = () => hint("This image could not be loaded: is the images folder beside the page?");
    img.src = trials[k].image;
    hint("");
    refresh();
  }

  function choose(answer) { pending.answer = answer; refresh(); }
  function setConfidence(n) { if (n <= levels) { pending.confidence = n; refresh(); } }
  function setQuality(n) { if (qualities > 0 && n <= qualities) { pending.quality = n; refresh(); } }

  function next() {
    if (!complete()) {
      hint(pending.shownAt === null ? "The image is still loading." :
        "Choose real or synthetic and a confidence" + (qualities ? " and a quality" : "") + " first.");
      return;
    }
    state.answers.push({
      trial: trials[state.answers.length].id,
      answer: pending.answer,
      confidence: pending.confidence,
      quality: qualities ? pending.quality : null,
      ms: Math.max(0, Math.round(performance.now() - pending.shownAt)),
    });
    save();
    if (document.activeElement) document.activeElement.blur();
    showTrial();
  }

  function answersText() {
    const answers = {
      format: manifest.format, study_sha256: sha, reader: state.reader, answers: state.answers,
    };
    return JSON.stringify(answers, null, 2) + "\n";
  }
  function fileName() {
    const who = state.reader.replace(/[^A-Za-z0-9_-]+/g, "_").slice(0, 60) || "reader";
    return "answers-" + who + "-" + sha.slice(0, @SHORT@) + ".json";
  }
  function download() {
    const url = URL.createObjectURL(new Blob([answersText()], { type: "application/json" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = fileName();
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  }
  function finish() {
    show("done");
    $("progress-bar").style.width = "100%";
    $("done-text").textContent = "All " + trials.length + " trials answered. Thank you, " +
      state.reader + ". Download your answers and send the file to the study's organiser.";
    $("file-name").textContent = fileName();
  }

  document.addEventListener("keydown", (e) => {
    if ($("trial").hidden || e.ctrlKey || e.metaKey || e.altKey) return;
    const key = e.key.toLowerCase();
    const code = /^(?:Digit|Numpad)([1-9])$/.exec(e.code || "");
    const digit = code ? +code[1] : /^[1-9]$/.test(e.key) ? +e.key : 0;
    if (key === "r") choose("real");
    else if (key === "s") choose("synthetic");
    else if (key === "q" && qualities > 0) { qualityArmed = true; hint("Quality: press a digit."); }
    else if (digit) {
      if (qualities > 0 && (e.shiftKey || qualityArmed)) setQuality(digit);
      else setConfidence(digit);
      qualityArmed = false;
    } else if (e.key === "Enter") next();
    else return;
    e.preventDefault();
  });

  document.title = manifest.title;
  $("count").textContent = String(trials.length);
  for (const el of document.querySelectorAll(".top")) el.textContent = String(levels);
  for (const el of document.querySelectorAll(".quality-top")) el.textContent = String(qualities);
  for (const el of document.querySelectorAll(".quality-only")) el.hidden = qualities === 0;
  scale($("confidence-levels"), levels, "confidence");
  scale($("quality-levels"), qualities, "quality");
  for (const b of document.querySelectorAll("[data-answer]"))
    b.addEventListener("click", () => choose(b.dataset.answer));
  $("next").addEventListener("click", next);
  $("download").addEventListener("click", download);
  $("restart").addEventListener("click", () => {
    if (!window.confirm("Forget this browser's answers to this study? Download them first.")) return;
    try { window.localStorage.removeItem(storeKey); } catch (e) { /* nothing stored */ }
    state = { reader: "", answers: [] };
    show("start");
  });
  $("start-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const name = $("reader").value.trim();
    if (!name) return;
    state = { reader: name, answers: [] };
    save();
    showTrial();
  });
  if (state.reader) showTrial();
  else show("start");
})();
"""

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self' file:; \
style-src 'unsafe-inline'; script-src 'unsafe-inline'; form-action 'none'">
<title>@TITLE@</title>
<style>@STYLE@</style>
</head>
<body>
<main>
<h1>@TITLE@</h1>
<section id="start" hidden>
<p>You will see <span id="count"></span> images, one at a time. For each, decide whether it is a
real image or a synthetic one, and how confident you are. Go by your first impression: there is
no going back to an earlier image. Your answers are kept in this browser as you go, so you can
reload the page and carry on; at the end, download them and send the file to the study's
organiser.</p>
<form id="start-form"><label>Your name or reader code
<input id="reader" maxlength="200" autocomplete="off" required></label>
<button type="submit" id="begin">Start</button></form>
<table>
<tr><td><kbd>R</kbd></td><td>Real</td></tr>
<tr><td><kbd>S</kbd></td><td>Synthetic</td></tr>
<tr><td><kbd>1</kbd> … <kbd class="top"></kbd></td><td>Confidence: 1 = guessing …
<span class="top"></span> = certain (required)</td></tr>
<tr class="quality-only"><td><kbd>Shift</kbd> + digit, or <kbd>Q</kbd> then a digit</td>
<td>Image quality: 1 = poor … <span class="quality-top"></span> = excellent (required)</td></tr>
<tr><td><kbd>Enter</kbd></td><td>Next image</td></tr>
</table>
</section>
<section id="trial" hidden>
<div class="progress"><span id="progress-text"></span><div class="bar"><div id="progress-bar">
</div></div></div>
<div id="stage"><img id="image" alt="The image to judge"></div>
<div><button type="button" id="answer-real" data-answer="real">Real <kbd>R</kbd></button>
<button type="button" id="answer-synthetic" data-answer="synthetic">Synthetic <kbd>S</kbd></button>
</div>
<div class="scale"><span>Confidence</span><span id="confidence-levels"></span>
<span class="ends">1 = guessing … <span class="top"></span> = certain</span></div>
<div class="scale quality-only"><span>Image quality</span><span id="quality-levels"></span>
<span class="ends">1 = poor … <span class="quality-top"></span> = excellent
(<kbd>Shift</kbd> + digit)</span></div>
<div><button type="button" id="next" disabled>Next <kbd>Enter</kbd></button></div>
<p id="hint"></p>
</section>
<section id="done" hidden>
<p id="done-text"></p>
<button type="button" id="download">Download answers</button>
<p>File: <code id="file-name"></code></p>
<p><button type="button" id="restart">Start again as another reader</button></p>
</section>
</main>
<script type="application/json" id="study">
@DATA@
</script>
<script>@SCRIPT@</script>
</body>
</html>
"""

_SCRIPT = _SCRIPT.replace("@PREFIX@", STORAGE_PREFIX).replace("@SHORT@", str(SHORT_SHA))

__all__ = ["SHORT_SHA", "STORAGE_PREFIX", "render_page", "study_data"]
