// Launch, open and stop notebooks through the stand-in's /xapi, as XNAT's JupyterHub plugin UI does.
const username = document.body.dataset.username;
const userPath = `/xapi/jupyterhub/users/${encodeURIComponent(username)}`;
let selected = null;

async function api(method, path, body) {
  const options = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// XNAT's event id and server name: the ISO timestamp without '-', ':' and '.'
function newEventId() {
  return new Date().toISOString().replace(/[-:.]/g, "");
}

function showStatus(state, message) {
  document.getElementById("launch-status").dataset.state = state;
  document.getElementById("launch-message").textContent = message;
}

function fillSelect(select, options) {
  select.replaceChildren(...options.map(([value, label]) => new Option(label, value)));
}

async function chooseItem(button) {
  selected = { ...button.dataset };
  document.getElementById("launch-item").textContent = `${selected.xsiType} ${selected.itemLabel}`;
  const query = new URLSearchParams({ type: "JUPYTERHUB", site: "XNAT", user: username, prj: selected.projectId });
  const environments = await api("GET", `/xapi/compute/environments/available?${query}`);
  const envSelect = document.getElementById("compute-environment");
  fillSelect(envSelect, environments.map((env) => [env.id, env.computeEnvironment.name]));
  const showHardware = () => {
    const env = environments.find((e) => String(e.id) === envSelect.value);
    const hardware = env ? env.hardwareOptions.hardwareConfigs : [];
    fillSelect(document.getElementById("hardware"), hardware.map((h) => [h.id, h.hardware.name]));
  };
  envSelect.onchange = showHardware;
  showHardware();
  document.getElementById("launch-panel").hidden = false;
}

async function followEvent(eventId) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    let event;
    try {
      event = await api("GET", `/xapi/event_tracking/${encodeURIComponent(eventId)}`);
    } catch (error) {
      continue;  // not recorded yet
    }
    const entries = event.payload ? JSON.parse(event.payload).entryList : [];
    if (event.succeeded === undefined) {
      showStatus("running", entries.length ? entries[entries.length - 1].message : "Working…");
      continue;
    }
    showStatus(event.succeeded ? "succeeded" : "failed", event.finalMessage);
    await refreshServers();
    return;
  }
}

async function startLaunch() {
  await startServer({
    xsiType: selected.xsiType, itemId: selected.itemId, itemLabel: selected.itemLabel, projectId: selected.projectId,
    computeEnvironmentConfigId: Number(document.getElementById("compute-environment").value),
    hardwareConfigId: Number(document.getElementById("hardware").value),
  });
}

// A dashboard runs on its own compute environment and hardware, which XNAT's dialog sends with its id.
async function startDashboard(button) {
  const data = button.dataset;
  await startServer({
    xsiType: data.xsiType, itemId: data.itemId, itemLabel: data.itemLabel, projectId: data.projectId,
    dashboardConfigId: Number(data.dashboardConfigId),
    computeEnvironmentConfigId: Number(data.computeEnvironmentConfigId),
    hardwareConfigId: Number(data.hardwareConfigId),
  });
}

async function startServer(request) {
  const eventId = newEventId();
  const body = { username, servername: eventId, eventTrackingId: eventId, ...request };
  showStatus("running", `Starting server ${eventId}…`);
  try {
    await api("POST", `${userPath}/server/${eventId}`, body);
  } catch (error) {
    showStatus("failed", error.message);
    return;
  }
  await followEvent(eventId);
}

async function openServer(server) {
  const target = window.open("", "_blank");
  try {
    const host = (await api("GET", "/xapi/jupyterhub/preferences/jupyterHubHostUrl")).jupyterHubHostUrl;
    const query = new URLSearchParams({ username, expiresIn: "172800", note: "XNAT stand-in notebook link" });
    const token = await api("POST", `${userPath}/tokens?${query}`);
    target.location = `${host}${server.url}?token=${encodeURIComponent(token.token)}`;
  } catch (error) {
    target.close();
    showStatus("failed", error.message);
  }
}

async function stopServer(name) {
  const eventId = newEventId();
  showStatus("running", `Stopping server ${name}…`);
  try {
    await api("DELETE", `${userPath}/server/${encodeURIComponent(name)}?eventTrackingId=${eventId}`);
  } catch (error) {
    showStatus("failed", error.message);
    return;
  }
  await followEvent(eventId);
}

async function refreshServers() {
  const body = document.querySelector("#servers tbody");
  const message = document.getElementById("servers-message");
  let servers = {};
  try {
    servers = (await api("GET", userPath)).servers || {};
    message.textContent = "";
  } catch (error) {
    message.textContent = error.message.includes(": 404") ? "" : `JupyterHub is not reachable: ${error.message}`;
  }
  body.replaceChildren(...Object.entries(servers).map(([name, server]) => {
    const row = document.createElement("tr");
    row.dataset.test = "server";
    row.dataset.name = name;
    const options = server.user_options || {};
    // XNAT's Jupyter menu tells them apart by dashboardConfigId
    const kind = options.dashboardConfigId != null && options.dashboardConfigId !== "" ? "Dashboard" : "Notebook";
    row.dataset.kind = kind.toLowerCase();
    if (kind === "Dashboard") row.dataset.dashboardConfigId = options.dashboardConfigId;
    for (const text of [name, kind, `${options.xsiType || ""} ${options.itemId || ""}`,
                        server.ready ? "yes" : "no"]) {
      row.insertCell().textContent = text;
    }
    const actions = row.insertCell();
    for (const [label, test, action] of [["Open", "open-server", () => openServer(server)],
                                         ["Stop", "stop-server", () => stopServer(name)]]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.dataset.test = test;
      button.disabled = label === "Open" && !server.ready;
      button.onclick = action;
      actions.append(button);
    }
    return row;
  }));
}

document.querySelectorAll("button[data-test=launch]").forEach((button) => {
  button.onclick = () => chooseItem(button).catch((error) => showStatus("failed", error.message));
});
document.querySelectorAll("button.dashboard-launch").forEach((button) => {
  button.onclick = () => startDashboard(button).catch((error) => showStatus("failed", error.message));
});
document.getElementById("launch-start").onclick = startLaunch;
refreshServers();
