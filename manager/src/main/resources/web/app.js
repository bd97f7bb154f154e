// Carevisor web console: logs in, polls the REST API and offers the VM power actions.
//
// The login token lives in sessionStorage (per browser tab, gone when the tab closes) and is sent as
// "Authorization: Bearer ..." by call(), the one wrapper every API request goes through. Never a cookie:
// the browser does not send it on its own, so there is nothing to forge across sites (no CSRF).
"use strict";

// A time as hospitals write it on records: ISO date and 24-hour time, in the browser's time zone, with the zone's
// offset (e.g. 2026-12-02 14:05:09 +01:00), never a 12-hour clock without a date.
function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const p = (n) => String(n).padStart(2, "0");
  const off = -d.getTimezoneOffset();
  const zone = (off >= 0 ? "+" : "-") + p(Math.floor(Math.abs(off) / 60)) + ":" + p(Math.abs(off) % 60);
  return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + " " + p(d.getHours()) + ":"
    + p(d.getMinutes()) + ":" + p(d.getSeconds()) + " " + zone;
}

const api = "/api/v1";
const TOKEN_KEY = "carevisor.token";
const IDLE_KEY = "carevisor.idleTimeoutMinutes";

let token = sessionStorage.getItem(TOKEN_KEY);
let idleMinutes = Number(sessionStorage.getItem(IDLE_KEY)) || 0;
let lastActivity = Date.now();
let user = null;        // whoami of the logged-in user
let epoch = 0;          // bumped when a session ends or is suspended: answers to older requests are dropped
let timers = [];        // polling intervals, running only while the console is shown
let consoleVm = null;
let haByVm = null;      // HA settings of VMs by id from the last HA view (HA-enabled VMs only); null: no view
let consoleOffset = -65536;

/** An RFC 9457 problem answer of the manager; message is the problem's detail. */
class ApiError extends Error {
  constructor(status, problem, fallback) {
    super(problem && problem.detail ? problem.detail : fallback);
    this.status = status;
    this.code = problem && problem.code;
    this.problem = problem;
  }
}

/** A request whose outcome is already handled (session ended, answer outdated, user cancelled): show nothing. */
class Quiet extends Error {
  constructor(message) { super(message); this.quiet = true; }
}

const $ = id => document.getElementById(id);

/**
 * Every API request. Sends the token; a 401 ends the session (login form with the reason), a 403
 * password-change-required shows the password form; other errors are thrown as ApiError for the caller
 * to show (403 forbidden: the detail names the missing privilege; the session stays).
 * opts.token: send this token instead of the session's (null: none); opts.detached: a request outside the
 * session's life cycle (login, logout): no idle check, no session handling of its answer.
 * opts.reason: the reason for a change (header Carevisor-Reason).
 */
async function call(method, path, body, opts = {}) {
  const started = epoch;
  const auth = opts.token !== undefined ? opts.token : token;
  if (!opts.detached) {
    if (!auth) throw new Quiet("not logged in");
    if (idleExpired()) {
      idleLogoff();
      throw new Quiet("logged off after inactivity");
    }
  }
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers["Authorization"] = "Bearer " + auth;
  if (opts.reason) headers["Carevisor-Reason"] = opts.reason;
  const res = await fetch(api + path, {
    method, headers, cache: "no-store", credentials: "omit",
    body: body !== undefined ? JSON.stringify(body) : undefined
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const err = new ApiError(res.status, data, res.status + " " + res.statusText);
    if (opts.detached) throw err;
    if (started !== epoch) throw new Quiet(err.message); // the session ended or changed meanwhile
    if (res.status === 401) {
      if (token) sessionEnded(err);
      throw new Quiet(err.message);
    }
    if (res.status === 403 && err.code === "password-change-required") {
      requirePasswordChange();
      throw new Quiet(err.message);
    }
    throw err;
  }
  if (!opts.detached && started !== epoch) throw new Quiet("outdated answer");
  return data;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

/** The page's message area (errors in red, confirmations in green). */
function show(message, ok) {
  const m = $("message");
  m.textContent = message;
  m.className = ok ? "ok" : "";
  m.hidden = false;
  clearTimeout(show.timer);
  show.timer = setTimeout(() => { m.hidden = true; }, ok ? 6000 : 10000);
}

function hideMessage() {
  clearTimeout(show.timer);
  $("message").hidden = true;
}

function setText(id, text) {
  const e = $(id);
  e.textContent = text || "";
  e.hidden = !text;
}

const gib = b => (b / 1073741824).toFixed(1) + " GiB";

// ---- which part of the page is shown: "login", "password" (change required) or "app"

function view(which) {
  $("login-pane").hidden = which !== "login";
  $("password-pane").hidden = which !== "password";
  $("app").hidden = which !== "app";
  $("user-bar").hidden = which === "login";
  $("health").hidden = which !== "app";
}

/** Forgets everything of the session: token, timers, the data shown. */
function endSession() {
  epoch++;
  stopPolling();
  token = null;
  user = null;
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(IDLE_KEY);
  clearData();
}

function clearData() {
  for (const id of ["hosts", "vms", "tasks", "ha-hosts", "ha-vms", "ha-decisions"]) fill(id, []);
  $("ha-pane").hidden = true;
  $("create").reset();
  document.querySelector("#create select[name=image]").replaceChildren();
  consoleVm = null;
  haByVm = null;
  $("console").textContent = "";
  $("console-pane").hidden = true;
  $("whoami").textContent = "";
  $("health").textContent = "…";
  $("health").className = "pill";
  lastRefreshError = null;
  hideMessage();
}

/** Shows the login form, with an optional notice why (logged off, session ended). */
function showLogin(notice) {
  endSession();
  view("login");
  setText("login-info", notice);
  setText("login-error", "");
  const u = $("login-user"), p = $("login-password");
  p.value = "";
  (u.value ? p : u).focus();
}

function idleMessage(minutes) {
  return "You were logged off after " + minutes + (minutes === 1 ? " minute" : " minutes") + " without activity.";
}

/** A 401: the session is over (not valid, expired, or logged off by the server after inactivity). */
function sessionEnded(err) {
  if (err.code === "session-timed-out") {
    const m = /after (\d+) minute/.exec(err.message || "");
    showLogin(idleMessage(m ? Number(m[1]) : idleMinutes));
  } else if (err.code === "token-expired") {
    showLogin("Your session has expired. Please log in again.");
  } else {
    showLogin("Your session has ended: " + err.message);
  }
}

// ---- login, logout, password change

$("login-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const username = $("login-user").value.trim();
  const password = $("login-password").value;
  setText("login-error", "");
  setText("login-info", "");
  $("login-submit").disabled = true;
  try {
    const s = await call("POST", "/auth/login", {username, password}, {detached: true, token: null});
    $("login-password").value = "";
    startSession(s);
  } catch (e) {
    $("login-password").value = "";
    setText("login-error", loginProblem(e));
    $("login-password").focus();
  } finally {
    $("login-submit").disabled = false;
  }
});

function loginProblem(e) {
  if (!(e instanceof ApiError)) return "The manager cannot be reached (" + e.message + "). Please try again.";
  switch (e.code) {
    case "login-failed": return "Login failed: the user name or password is wrong.";
    case "account-locked": return "Account locked: " + e.message + ".";
    case "account-disabled": return "Account disabled: " + e.message + ".";
    default: return "Login failed: " + e.message;
  }
}

function startSession(s) {
  endSession();
  token = s.token;
  sessionStorage.setItem(TOKEN_KEY, token);
  idleMinutes = s.idleTimeoutMinutes || 0;
  if (idleMinutes) sessionStorage.setItem(IDLE_KEY, String(idleMinutes));
  lastActivity = Date.now();
  user = {username: s.username, fullName: s.fullName, roles: null};
  renderWhoami();
  if (s.mustChangePassword) requirePasswordChange(); else enterApp();
}

/** Loads who is logged in, then shows the console (or the password form when a change is required). */
async function enterApp() {
  const started = epoch;
  try {
    const me = await call("GET", "/auth/whoami");
    applyWhoami(me);
    if (me.mustChangePassword) {
      requirePasswordChange();
      return;
    }
    view("app");
    startPolling();
  } catch (e) {
    if (e.quiet) return;
    show("Cannot load your account: " + e.message);
    // Manager unreachable: try again while this session lasts.
    setTimeout(() => { if (token && epoch === started) enterApp(); }, 5000);
  }
}

function applyWhoami(me) {
  user = me;
  if (me.idleTimeoutMinutes) {
    idleMinutes = me.idleTimeoutMinutes;
    sessionStorage.setItem(IDLE_KEY, String(idleMinutes));
  }
  renderWhoami();
}

function renderWhoami() {
  if (!user) return;
  let roles = "";
  if (Array.isArray(user.roles)) {
    roles = user.roles.length === 0 ? "no roles"
      : "roles: " + user.roles.map(r => r.role + (r.scope && r.scope !== "global" ? " on " + r.scope : "")).join(", ");
  }
  $("whoami").textContent = (user.fullName || user.username) + " (" + user.username + ")" + (roles ? " · " + roles : "");
}

/** The user must change the password before anything else. */
function requirePasswordChange() {
  epoch++;
  stopPolling();
  clearData();
  renderWhoami();
  view("password");
  for (const id of ["pw-current", "pw-new", "pw-confirm"]) $(id).value = "";
  setText("pw-error", "");
  $("pw-current").focus();
  const started = epoch;
  call("GET", "/auth/whoami").then(me => { if (epoch === started) applyWhoami(me); }).catch(() => {});
}

$("password-form").addEventListener("submit", async ev => {
  ev.preventDefault();
  const currentPassword = $("pw-current").value, newPassword = $("pw-new").value;
  if (newPassword !== $("pw-confirm").value) {
    setText("pw-error", "The two new passwords differ.");
    return;
  }
  setText("pw-error", "");
  $("pw-submit").disabled = true;
  try {
    await call("POST", "/auth/password", {currentPassword, newPassword});
    for (const id of ["pw-current", "pw-new", "pw-confirm"]) $(id).value = "";
    show("Password changed.", true);
    enterApp();
  } catch (e) {
    if (!e.quiet) setText("pw-error", e instanceof ApiError ? e.message : "The manager cannot be reached (" + e.message + ").");
  } finally {
    $("pw-submit").disabled = false;
  }
});

/** Ends the session here at once, and on the manager (revokes the token). */
function logout(notice) {
  const t = token;
  showLogin(notice);
  if (t) call("POST", "/auth/logout", undefined, {detached: true, token: t}).catch(() => {});
}

$("logout").addEventListener("click", () => logout("You have logged out."));

// ---- automatic logoff after inactivity (the manager enforces the same for requests)

function idleExpired() {
  return idleMinutes > 0 && Date.now() - lastActivity >= idleMinutes * 60000;
}

function idleLogoff() {
  if (token) logout(idleMessage(idleMinutes));
}

function activity() {
  if (!token) return;
  if (idleExpired()) idleLogoff(); // too late: a click after the timeout does not revive the session
  else lastActivity = Date.now();
}

for (const type of ["pointerdown", "keydown"]) {
  document.addEventListener(type, activity, {capture: true, passive: true});
}
document.addEventListener("visibilitychange", () => { if (token && idleExpired()) idleLogoff(); });
setInterval(() => { if (token && idleExpired()) idleLogoff(); }, 5000);

// ---- reasons for changes of objects that need one

function askReason(err) {
  const r = prompt(err.message + "\n\nReason for this change:");
  if (r == null || !r.trim()) throw new Quiet("cancelled");
  if (/[^\x20-\xff]/.test(r)) {
    throw new Error("the reason can contain only Latin-1 characters (letters, digits, punctuation)");
  }
  return r.trim();
}

/** Runs fn(reason) without a reason, and again with one when the manager requires it. */
async function withReason(fn) {
  try {
    return await fn(undefined);
  } catch (e) {
    if (!(e instanceof ApiError) || e.code !== "reason-required") throw e;
    return await fn(askReason(e));
  }
}

// ---- the console

async function act(vm, action, method = "POST", path = null) {
  try {
    const task = await withReason(reason => call(method, path || ("/vms/" + vm.id + "/" + action), undefined, {reason}));
    show(action + " " + vm.name + ": task " + task.id + " " + task.state, true);
    refresh();
  } catch (e) { if (!e.quiet) show(action + " " + vm.name + ": " + e.message); }
}

function actions(vm) {
  const td = el("td");
  const b = (label, fn) => td.append(el("button", {onclick: fn, "data-action": label}, label));
  const live = ["running", "paused", "starting", "stopping"].includes(vm.state);
  if (!live) b("start", () => act(vm, "start"));
  if (vm.state === "running") {
    b("shutdown", () => act(vm, "shutdown"));
    b("reboot", () => act(vm, "reboot"));
    b("pause", () => act(vm, "pause"));
  }
  if (vm.state === "paused") b("resume", () => act(vm, "resume"));
  if (live) b("power off", () => act(vm, "poweroff"));
  b("console", () => { consoleVm = vm; consoleOffset = -65536;
    $("console").textContent = "";
    $("console-name").textContent = vm.name;
    $("console-pane").hidden = false; pollConsole(); });
  if (!live) b("delete", () => { if (confirm("Delete VM " + vm.name + " and its disks?"))
    act(vm, "delete", "DELETE", "/vms/" + vm.id); });
  b("HA", () => configureHa(vm));
  return td;
}

function haText(vm) {
  if (!haByVm) return "";
  const h = haByVm.get(vm.id);
  return h ? "on, priority " + h.priority : "off";
}

/**
 * Turns HA on with a restart priority, changes the priority, or turns HA off (empty answer). Dependencies,
 * health checks and restart limits stay as they are (carevisor vm ha sets them).
 */
async function configureHa(vm) {
  const current = haByVm ? haByVm.get(vm.id) : null;
  const answer = prompt("High availability for " + vm.name + ": when its host or its QEMU fails, the VM is started"
    + " again, highest restart priority first.\n\nRestart priority 0-100"
    + (current ? " (empty: turn HA off):" : ":"), current ? String(current.priority) : "50");
  if (answer == null) return;
  const text = answer.trim();
  let body;
  if (text === "") {
    if (!current) return;
    body = {enabled: false};
  } else if (!/^[0-9]{1,3}$/.test(text) || Number(text) > 100) {
    show("HA " + vm.name + ": the restart priority must be a whole number from 0 to 100, not '" + text + "'");
    return;
  } else {
    body = {enabled: true, priority: Number(text)};
  }
  try {
    await withReason(reason => call("PATCH", "/vms/" + vm.id + "/ha", body, {reason}));
    show("HA " + vm.name + ": " + (body.enabled ? "on, restart priority " + body.priority : "off"), true);
    refresh();
  } catch (e) { if (!e.quiet) show("HA " + vm.name + ": " + e.message); }
}

function fill(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows);
}

let refreshing = -1;          // epoch of the refresh in flight
let lastRefreshError = null;  // shown once, not every 2 s

async function refresh() {
  if (!token || refreshing === epoch) return;
  const mine = epoch;
  refreshing = mine;
  try {
    const [health, hosts, vms, tasks, ha] = await Promise.allSettled([
      call("GET", "/health"), call("GET", "/hosts"), call("GET", "/vms"), call("GET", "/tasks?limit=10"),
      call("GET", "/ha")]);
    if (mine !== epoch) return;
    const all = [health, hosts, vms, tasks, ha];
    if (all.some(r => r.status === "rejected" && r.reason.quiet)) return; // logged off meanwhile
    const h = $("health");
    if (health.status === "fulfilled") {
      const x = health.value;
      h.textContent = x.status + " · " + x.hosts.connected + "/" + x.hosts.total + " hosts · " + x.vms + " VMs";
      h.className = "pill health-" + x.status;
    } else {
      h.textContent = "manager unreachable";
      h.className = "pill health-down";
    }
    if (hosts.status === "fulfilled") fill("hosts", hosts.value.map(x => el("tr", {},
      el("td", {}, x.name), el("td", {class: "status-" + x.status}, x.status), el("td", {}, x.cpus),
      el("td", {}, x.memoryAvailableMiB + " / " + x.memoryMiB + " MiB"), el("td", {}, gib(x.storageFreeBytes)),
      el("td", {}, x.accelerator), el("td", {}, x.runningVms + " running / " + x.vmCount),
      el("td", {class: "warn"}, (x.warnings || []).join("; ")))));
    haByVm = ha.status === "fulfilled" ? new Map(ha.value.vms.map(v => [v.id, v])) : null;
    if (vms.status === "fulfilled") fill("vms", vms.value.map(v => el("tr", {"data-vm": v.name},
      el("td", {}, v.name), el("td", {class: "state-" + v.state}, v.state), el("td", {}, v.powerState),
      el("td", {}, v.cpus), el("td", {}, v.memoryMiB + " MiB"), el("td", {}, v.host || ""),
      el("td", {}, v.guestUrl ? el("a", {href: v.guestUrl, target: "_blank", rel: "noopener"}, v.guestPort)
        : (v.guestPort || "")),
      el("td", {}, v.stateReason || ""), el("td", {}, haText(v)), actions(v))));
    if (tasks.status === "fulfilled") fill("tasks", tasks.value.map(t => el("tr", {},
      el("td", {}, when(t.createdAt)), el("td", {}, t.kind),
      el("td", {}, t.target ? t.target.name : ""),
      el("td", {class: "state-" + (t.state === "running" ? "running-task" : t.state)}, t.state),
      el("td", {}, t.progress + "%"), el("td", {}, t.error ? t.error.detail : (t.message || t.phase || "")))));
    // The HA view shows what the user's Sys.View covers; without Sys.View the section stays hidden (no error).
    $("ha-pane").hidden = ha.status !== "fulfilled";
    if (ha.status === "fulfilled") renderHa(ha.value);
    // Refusals of the manager (e.g. 403 forbidden: a privilege is missing) are shown once, not every 2 s.
    const refused = [hosts, vms, tasks].find(r => r.status === "rejected" && r.reason instanceof ApiError);
    const error = refused ? refused.reason.message : null;
    if (error && error !== lastRefreshError) show(error);
    lastRefreshError = error;
  } finally {
    if (refreshing === mine) refreshing = -1;
  }
}

/** Host health as the HA service sees it: up is fine, suspect/isolated are watched, fencing/dead lose VMs,
 *  maintenance: not watched (may be off). */
const HA_HEALTH_CLASS = {up: "health-up", suspect: "health-watch", isolated: "health-watch",
  fencing: "health-lost", dead: "health-lost", maintenance: ""};

function ago(seconds) {
  return seconds == null ? "never seen" : seconds < 1.5 ? "just now" : Math.round(seconds) + " s ago";
}

function renderHa(s) {
  fill("ha-hosts", s.hosts.map(h => el("tr", {"data-host": h.name},
    el("td", {}, h.name), el("td", {class: HA_HEALTH_CLASS[h.health] || ""}, h.health),
    el("td", {}, h.leaseCounter == null ? "" : String(h.leaseCounter)), el("td", {}, ago(h.leaseAgeSeconds)),
    el("td", {}, h.fence || "none (waits for the lease to expire)"))));
  fill("ha-vms", s.vms.length ? s.vms.map(v => el("tr", {"data-vm": v.name},
    el("td", {}, String(v.priority)), el("td", {}, v.name), el("td", {}, v.host || ""),
    el("td", {class: v.state === "running" ? "state-running" : v.protected ? "state-starting" : ""}, v.state)))
    : [el("tr", {}, el("td", {colspan: "4"}, "No VM is HA-protected."))]);
  fill("ha-decisions", s.recent.length ? s.recent.map(d => el("tr", {},
    el("td", {}, when(d.at)), el("td", {}, d.decision), el("td", {}, d.host || ""),
    el("td", {}, d.vm || ""), el("td", {}, d.detail || "")))
    : [el("tr", {}, el("td", {colspan: "5"}, "No decisions since the manager started."))]);
}

async function loadImages() {
  try {
    const images = await call("GET", "/images");
    const sel = document.querySelector("#create select[name=image]");
    const chosen = sel.value;
    sel.replaceChildren(...images.map(i => el("option", {value: i.name}, i.name + " (" + gib(i.virtualSizeBytes) + ")")));
    if (chosen && images.some(i => i.name === chosen)) sel.value = chosen;
  } catch (e) { /* shown by refresh */ }
}

let consoleBusy = false;

async function pollConsole() {
  if (!consoleVm || consoleBusy) return;
  const vm = consoleVm;
  consoleBusy = true;
  try {
    const chunk = await call("GET", "/vms/" + vm.id + "/console?offset=" + consoleOffset);
    if (consoleVm !== vm) return;
    const pre = $("console");
    if (chunk.offset === 0 && consoleOffset > 0) pre.textContent = "";
    // Terminal control sequences (cursor queries, colours) mean nothing in a <pre>; drop them.
    pre.textContent += chunk.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
    consoleOffset = chunk.nextOffset;
    pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    if (e.quiet || consoleVm !== vm) return;
    show("console: " + e.message);
    if (e instanceof ApiError && e.status === 403) { // no console privilege on this VM: stop asking
      consoleVm = null;
      $("console-pane").hidden = true;
    }
  } finally {
    consoleBusy = false;
  }
}

function startPolling() {
  stopPolling();
  refresh();
  loadImages();
  timers = [setInterval(refresh, 2000), setInterval(pollConsole, 1000), setInterval(loadImages, 15000)];
}

function stopPolling() {
  timers.forEach(clearInterval);
  timers = [];
}

$("create").addEventListener("submit", async ev => {
  ev.preventDefault();
  const form = ev.target;
  const f = new FormData(form);
  const body = {name: f.get("name"), cpus: Number(f.get("cpus")), memoryMiB: Number(f.get("memoryMiB")),
    image: f.get("image"), start: f.get("start") === "on"};
  try {
    const task = await withReason(reason => call("POST", "/vms", body, {reason}));
    show("creating " + body.name + ": task " + task.id, true);
    form.reset();
    refresh();
  } catch (e) { if (!e.quiet) show("create " + body.name + ": " + e.message); }
});
$("console-close").addEventListener("click", () => {
  consoleVm = null; $("console-pane").hidden = true; });

if (token) {
  user = null;
  enterApp(); // a reload: the session in this tab goes on if the manager still accepts the token
} else {
  showLogin();
}
