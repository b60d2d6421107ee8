"""Log in at the hub, open the notebook XNAT launched, and use it: a cell, the data mount, the workspace."""

from __future__ import annotations

import hashlib
import json
import secrets
from urllib.parse import urlsplit

from playwright.sync_api import expect

from browser_steps import (
    CHROMIUM_ARGS,
    launch_chromium,
    log_in_to_hub,
    new_session,
    run_in_new_notebook,
    wait_for_jupyterlab,
)
from local_site import ALICE, EXPERIMENT_ARCHIVE, EXPERIMENT_TARGET, HUB_URL, LAB_WORKSPACE, http

PROOF_FILE = "e2e-notebook-proof.txt"
EROFS = 30
CELL = """import json, os
data = {data!r}
print('LISTING', json.dumps(sorted(os.path.relpath(os.path.join(root, name), data)
                                   for root, _, names in os.walk(data) for name in names)))
try:
    open(os.path.join(data, 'e2e-write-test'), 'w')
except OSError as e:
    print('DATA-WRITE-ERRNO', e.errno)
with open({proof!r}, 'w') as proof:
    proof.write({nonce!r})
import hashlib, xnat
try:
    with xnat.connect(os.environ['XNAT_HOST'], user=os.environ['XNAT_USER'], password=os.environ['XNAT_PASS'],
                      loglevel='ERROR') as session:
        experiment = session.projects['DEMO01'].subjects['SUBJ01'].experiments['SUBJ01_MR1']
        print('XNAT-SCANS', json.dumps(sorted(experiment.scans.keys())))
        experiment.scans['2'].resources['NIFTI'].files['t2w.json'].download('/tmp/e2e-t2w.json')
        print('XNAT-DOWNLOAD', hashlib.sha256(open('/tmp/e2e-t2w.json', 'rb').read()).hexdigest())
except Exception as e:
    print('XNAT-ERROR', type(e).__name__, str(e).replace(chr(10), ' ')[:300])
print('DONE')
"""


def _notebooks(launch) -> set[str]:
    listing = http("GET", launch.url + "api/contents/" + LAB_WORKSPACE.rstrip("/"), token=launch.token)
    assert listing.status_code == 200, listing.text
    return {item["path"] for item in listing.json()["content"] if item["type"] == "notebook"}


def _tagged_lines(output: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in output.splitlines() if " " in line)


def test_hub_login_opens_xnats_server_in_jupyterlab_where_a_cell_reads_the_data_and_writes_the_workspace(
        site, users, alice_launch, alice_hub):
    server_path = urlsplit(alice_launch.url).path
    page = alice_hub.new_page()
    log_in_to_hub(page, ALICE, users[ALICE])
    page.goto(HUB_URL + "/hub/home")
    link = page.locator(f"tr.home-server-row[data-server-name='{alice_launch.server}'] a.server-link")
    expect(link).to_have_attribute("href", server_path)
    link.click()
    wait_for_jupyterlab(page)
    # Reached through the hub's OAuth with the login session: no token in any URL.
    assert urlsplit(page.url).path == server_path + "lab/tree/workspace" and "token" not in page.url, page.url
    # The layout JupyterLab restores from the workspace may hold dialogs of earlier sessions.
    page.goto(alice_launch.url + "lab/tree/workspace?reset")
    wait_for_jupyterlab(page)
    # The way back to XNAT in the Help menu.
    page.locator(".lm-MenuBar-itemLabel", has_text="Help").click()
    expect(page.locator(".lm-Menu-itemLabel", has_text="XNAT").first).to_be_visible()
    page.keyboard.press("Escape")

    nonce = secrets.token_hex(8)
    proof = f"/workspace/{ALICE}/{PROOF_FILE}"
    before = _notebooks(alice_launch)
    try:
        output = run_in_new_notebook(page, CELL.format(data=EXPERIMENT_TARGET, proof=proof, nonce=nonce),
                                     "DONE", timeout_ms=120_000)
    finally:
        for path in _notebooks(alice_launch) - before:
            http("DELETE", alice_launch.url + "api/contents/" + path, token=alice_launch.token)

    tagged = _tagged_lines(output)
    archive = site.archive_dir / EXPERIMENT_ARCHIVE
    expected = sorted(str(p.relative_to(archive)) for p in archive.rglob("*") if p.is_file())
    assert expected, f"the sample experiment {archive} holds no files"
    assert json.loads(tagged["LISTING"]) == expected, output
    assert tagged.get("DATA-WRITE-ERRNO") == str(EROFS), f"the archive data is writable in the notebook: {output}"
    # The xnat client in the notebook lists the experiment's scans and downloads a file of one.
    assert json.loads(tagged.get("XNAT-SCANS", "null")) == ["1", "2"], output
    t2w = (archive / "SCANS" / "2" / "NIFTI" / "t2w.json").read_bytes()
    assert tagged.get("XNAT-DOWNLOAD") == hashlib.sha256(t2w).hexdigest(), output

    written = http("GET", alice_launch.url + "api/contents/" + LAB_WORKSPACE + PROOF_FILE,
                   params={"content": "1", "type": "file", "format": "text"}, token=alice_launch.token)
    assert written.status_code == 200 and written.json()["content"] == nonce, written.text
    on_host = site.workspaces_dir / "users" / ALICE / PROOF_FILE
    assert on_host.read_text(encoding="utf-8") == nonce


KERNEL_TRAFFIC = """async ([base, seconds]) => {
    const xsrf = decodeURIComponent(document.cookie.split('; ').find(c => c.startsWith('_xsrf=')).slice(6));
    const headers = {'X-XSRFToken': xsrf, 'Content-Type': 'application/json'};
    const kernel = await (await fetch(base + 'api/kernels',
                                      {method: 'POST', headers, body: '{"name": "python3"}'})).json();
    const started = Date.now();
    const result = await new Promise((resolve) => {
        const seen = {sent: 0, replies: 0, closed: null};
        const socket = new WebSocket(
            location.origin.replace('https', 'wss') + base + 'api/kernels/' + kernel.id + '/channels');
        let timer = null;
        const send = () => {
            seen.sent += 1;
            socket.send(JSON.stringify({header: {msg_id: 'e2e-' + seen.sent, msg_type: 'execute_request', username: '',
                session: 'e2e', version: '5.3', date: ''}, parent_header: {}, metadata: {}, channel: 'shell',
                content: {code: 'print(' + seen.sent + ')', silent: false}, buffers: []}));
        };
        socket.onopen = () => { send(); timer = setInterval(send, 2000); };
        socket.onmessage = (event) => { if (JSON.parse(event.data).msg_type === 'execute_reply') seen.replies += 1; };
        socket.onclose = (event) => {
            clearInterval(timer);
            seen.closed = {code: event.code, after: (Date.now() - started) / 1000};
            resolve(seen);
        };
        setTimeout(() => { clearInterval(timer); socket.onclose = null; socket.close(); resolve(seen); },
                   seconds * 1000);
    });
    await fetch(base + 'api/kernels/' + kernel.id, {method: 'DELETE', headers});
    return result;
}"""


def test_kernel_websocket_stays_open_through_haproxy_over_http2(playwright_driver, users, alice_launch):
    """Browsers speak HTTP/2 to haproxy; a notebook's kernel websocket must stay open while it is used."""
    browser = launch_chromium(playwright_driver, CHROMIUM_ARGS)
    try:
        page = new_session(browser).new_page()
        log_in_to_hub(page, ALICE, users[ALICE])
        page.goto(alice_launch.url + "api/status")
        assert page.evaluate("() => performance.getEntriesByType('navigation')[0].nextHopProtocol") == "h2"
        page.goto(alice_launch.url + "lab")
        wait_for_jupyterlab(page)
        seen = page.evaluate(KERNEL_TRAFFIC, [urlsplit(alice_launch.url).path, 20])
    finally:
        browser.close()
    assert seen["closed"] is None, f"the kernel websocket closed while in use: {seen}"
    assert seen["replies"] >= seen["sent"] - 1 >= 8, seen
