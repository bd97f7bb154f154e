// Carevisor web console: polls the REST API and offers the VM power actions.
"use strict";
const api = "/api/v1";
let consoleVm = null;
let consoleOffset = -65536;

async function call(method, path, body) {
  const res = await fetch(api + path, {
    method, headers: body ? {"Content-Type": "application/json"} : {},
    body: body ? JSON.stringify(body) : undefined
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    throw new Error(data && data.detail ? data.detail : res.status + " " + res.statusText);
  }
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

function show(message, ok) {
  const m = document.getElementById("message");
  m.textContent = message;
  m.className = ok ? "ok" : "";
  m.hidden = false;
  clearTimeout(show.timer);
  show.timer = setTimeout(() => { m.hidden = true; }, 6000);
}

const gib = b => (b / 1073741824).toFixed(1) + " GiB";

async function act(vm, action, method = "POST", path = null) {
  try {
    const task = await call(method, path || ("/vms/" + vm.id + "/" + action));
    show(action + " " + vm.name + ": task " + task.id + " " + task.state, true);
    refresh();
  } catch (e) { show(action + " " + vm.name + ": " + e.message); }
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
    document.getElementById("console").textContent = "";
    document.getElementById("console-name").textContent = vm.name;
    document.getElementById("console-pane").hidden = false; pollConsole(); });
  if (!live) b("delete", () => { if (confirm("Delete VM " + vm.name + " and its disks?"))
    act(vm, "delete", "DELETE", "/vms/" + vm.id); });
  return td;
}

function fill(id, rows) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows);
}

async function refresh() {
  try {
    const [health, hosts, vms, tasks] = await Promise.all([
      call("GET", "/health"), call("GET", "/hosts"), call("GET", "/vms"), call("GET", "/tasks?limit=10")]);
    const h = document.getElementById("health");
    h.textContent = health.status + " · " + health.hosts.connected + "/" + health.hosts.total + " hosts · "
      + health.vms + " VMs";
    h.className = "pill health-" + health.status;
    fill("hosts", hosts.map(x => el("tr", {},
      el("td", {}, x.name), el("td", {class: "status-" + x.status}, x.status), el("td", {}, x.cpus),
      el("td", {}, x.memoryAvailableMiB + " / " + x.memoryMiB + " MiB"), el("td", {}, gib(x.storageFreeBytes)),
      el("td", {}, x.accelerator), el("td", {}, x.runningVms + " running / " + x.vmCount),
      el("td", {class: "warn"}, (x.warnings || []).join("; ")))));
    fill("vms", vms.map(v => el("tr", {"data-vm": v.name},
      el("td", {}, v.name), el("td", {class: "state-" + v.state}, v.state), el("td", {}, v.powerState),
      el("td", {}, v.cpus), el("td", {}, v.memoryMiB + " MiB"), el("td", {}, v.host || ""),
      el("td", {}, v.guestUrl ? el("a", {href: v.guestUrl, target: "_blank"}, v.guestPort) : (v.guestPort || "")),
      el("td", {}, v.stateReason || ""), actions(v))));
    fill("tasks", tasks.map(t => el("tr", {},
      el("td", {}, new Date(t.createdAt).toLocaleTimeString()), el("td", {}, t.kind),
      el("td", {}, t.target ? t.target.name : ""),
      el("td", {class: "state-" + (t.state === "running" ? "running-task" : t.state)}, t.state),
      el("td", {}, t.progress + "%"), el("td", {}, t.error ? t.error.detail : (t.message || t.phase || "")))));
  } catch (e) {
    const h = document.getElementById("health");
    h.textContent = "manager unreachable";
    h.className = "pill health-down";
  }
}

async function loadImages() {
  try {
    const images = await call("GET", "/images");
    const sel = document.querySelector("#create select[name=image]");
    sel.replaceChildren(...images.map(i => el("option", {value: i.name}, i.name + " (" + gib(i.virtualSizeBytes) + ")")));
  } catch (e) { /* shown by refresh */ }
}

async function pollConsole() {
  if (!consoleVm) return;
  try {
    const chunk = await call("GET", "/vms/" + consoleVm.id + "/console?offset=" + consoleOffset);
    const pre = document.getElementById("console");
    if (chunk.offset === 0 && consoleOffset > 0) pre.textContent = "";
    // Terminal control sequences (cursor queries, colours) mean nothing in a <pre>; drop them.
    pre.textContent += chunk.text.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "").replace(/\r/g, "");
    consoleOffset = chunk.nextOffset;
    pre.scrollTop = pre.scrollHeight;
  } catch (e) { show("console: " + e.message); }
}

document.getElementById("create").addEventListener("submit", async ev => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const body = {name: f.get("name"), cpus: Number(f.get("cpus")), memoryMiB: Number(f.get("memoryMiB")),
    image: f.get("image"), start: f.get("start") === "on"};
  try {
    const task = await call("POST", "/vms", body);
    show("creating " + body.name + ": task " + task.id, true);
    ev.target.reset();
    refresh();
  } catch (e) { show("create " + body.name + ": " + e.message); }
});
document.getElementById("console-close").addEventListener("click", () => {
  consoleVm = null; document.getElementById("console-pane").hidden = true; });

refresh();
loadImages();
setInterval(refresh, 2000);
setInterval(pollConsole, 1000);
setInterval(loadImages, 15000);
