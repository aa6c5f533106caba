"""The dashboard page: server-rendered HTML whose only script and style carry the CSP nonce."""

from __future__ import annotations

from html import escape

__all__ = ["render_dashboard"]

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>AIOM dashboard</title>
<style nonce="{nonce}">
  body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; }}
  table {{ border-collapse: collapse; width: 100%; }}
  td, th {{ border-bottom: 1px solid #ddd; padding: .3rem .5rem; text-align: left; }}
  .muted {{ color: #666; }}
  form {{ margin: 1rem 0; display: flex; gap: .5rem; }}
</style>
</head>
<body>
<h1>AIOM dashboard</h1>
<p class="muted">Environment: <strong>{environment}</strong>. AI provider: <strong>{provider}</strong>.
ERP: <strong>{erp}</strong>.</p>
<p id="status" class="muted">Loading...</p>
<form id="new-operation">
  <input name="title" placeholder="New operation" required maxlength="200">
  <button type="submit">Add</button>
</form>
<table>
  <thead><tr><th>#</th><th>Title</th><th>Status</th><th>Priority</th></tr></thead>
  <tbody id="operations"></tbody>
</table>
<h2>AI usage</h2>
<p id="usage" class="muted"></p>
<script nonce="{nonce}">
(() => {{
  const status = document.getElementById("status");
  async function load() {{
    const [ops, usage] = await Promise.all([
      fetch("/api/operations?limit=50").then((r) => r.json()),
      fetch("/api/ai/usage").then((r) => r.json()),
    ]);
    const body = document.getElementById("operations");
    body.replaceChildren();
    for (const op of ops.items) {{
      const row = document.createElement("tr");
      for (const value of [op.id, op.title, op.status, op.priority]) {{
        const cell = document.createElement("td");
        cell.textContent = String(value);  // never innerHTML: titles are user input
        row.append(cell);
      }}
      body.append(row);
    }}
    document.getElementById("usage").textContent =
      `${{usage.calls}} calls, ${{usage.input_tokens + usage.output_tokens}} tokens, $${{usage.cost_usd.toFixed(4)}}`;
    status.textContent = `${{ops.total}} operations`;
    document.documentElement.dataset.dashboard = "ready";
  }}
  document.getElementById("new-operation").addEventListener("submit", async (event) => {{
    event.preventDefault();
    const title = new FormData(event.target).get("title");
    const response = await fetch("/api/operations", {{
      method: "POST", headers: {{"content-type": "application/json"}}, body: JSON.stringify({{title}}),
    }});
    if (!response.ok) status.textContent = (await response.json()).detail || response.statusText;
    event.target.reset();
    await load();
  }});
  load().catch((error) => {{ status.textContent = "Could not load: " + error; }});
}})();
</script>
</body>
</html>
"""


def render_dashboard(*, nonce: str, environment: str, provider: str, erp: str) -> str:
    """Return the dashboard HTML with ``nonce`` on its script and style."""
    values = {"nonce": nonce, "environment": environment, "provider": provider, "erp": erp}
    return _PAGE.format(**{key: escape(value) for key, value in values.items()})
