"""The workbook in a real browser: JupyterLab 4 in Debian's Chromium, driven by Playwright.

Each notebook is opened in JupyterLab, run with "Run All Cells", and checked once its kernel is idle:
every code cell ran, no cell shows an error or a traceback, and every widget the notebook displays
(the quizzes, notebook 04's playground) rendered as a live ipywidget, not as "Error displaying widget"
or its plain-text form. In notebook 04 the playground is then used the way a reader uses it: tick
"KMS permission in IAM", press "Apply and scan", and the outcome turns from refused to allowed.

Screenshots go to artifacts/screenshots/. Skips where Chromium or Playwright is missing (see conftest).
Run alone: ``python3 run.py test tests/browser -v`` (see tests/browser/README.md).
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
PLAYGROUND_NOTEBOOK = "04_the_denied_user.ipynb"
RUN_TIMEOUT_MS = 90_000  # "Run All Cells" of one notebook (they take a few seconds each)
IDLE_MS = 750  # the kernel must stay idle this long (widget messages settle) before the page is checked
MAX_SCREENSHOT_HEIGHT = 16_000

NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def _stored_widget_count(name: str) -> int:
    """How many widget views the notebook's stored outputs show (its cells that display a widget)."""
    notebook = json.loads((NOTEBOOKS / name).read_text())
    return sum(WIDGET_MIME in output.get("data", {})
               for cell in notebook["cells"] if cell["cell_type"] == "code"
               for output in cell.get("outputs", []))


# -- JavaScript run in the page (window.jupyterapp exists: --LabApp.expose_app_in_browser) ----------------

OPEN_AND_RUN = """
async ({path, timeoutMs}) => {
  const app = window.jupyterapp;
  const deadline = Date.now() + timeoutMs;  // one budget for all the steps below
  const within = (promise, what) => Promise.race([promise, new Promise((_, reject) => setTimeout(
      () => reject(new Error(`${what}: not done ${timeoutMs} ms after opening`)), Math.max(0, deadline - Date.now())))]);
  app.shell.collapseLeft();
  const panel = await within(app.commands.execute('docmanager:open', {path, factory: 'Notebook'}), 'open');
  window.__kmslabPanels = window.__kmslabPanels || {};
  window.__kmslabPanels[path] = panel;
  await within(panel.context.ready, 'document ready');
  await within(panel.sessionContext.ready, 'kernel ready');
  app.shell.activateById(panel.id);
  await within(panel.revealed, 'revealed');
  const ran = await within(app.commands.execute('notebook:run-all-cells'), 'run all cells');
  return {ran: ran === undefined ? null : ran, kernel: panel.sessionContext.session?.kernel?.name ?? null};
}
"""

KERNEL_IDLE = """
({path, idleMs}) => {
  const panel = window.__kmslabPanels[path];
  const kernel = panel.sessionContext.session?.kernel;
  const busy = !kernel || kernel.status !== 'idle' ||
      [...panel.content.node.querySelectorAll('.jp-InputPrompt')].some(p => p.textContent.includes('*'));
  const now = Date.now();
  if (busy) { panel.__idleSince = null; return false; }
  panel.__idleSince = panel.__idleSince || now;
  return now - panel.__idleSince >= idleMs;
}
"""

# what the notebook model holds after the run: cells not run, error outputs, stderr text, widget outputs
MODEL_REPORT = """
({path}) => {
  const panel = window.__kmslabPanels[path];
  const report = {codeCells: 0, notRun: [], errors: [], stderr: [], widgetOutputs: 0};
  let index = 0;
  for (const cell of panel.content.model.cells) {
    index += 1;
    if (cell.type !== 'code') continue;
    report.codeCells += 1;
    const source = cell.sharedModel.getSource();
    if (cell.executionCount === null && source.trim()) report.notRun.push(index);
    for (let i = 0; i < cell.outputs.length; i++) {
      const output = cell.outputs.get(i).toJSON();
      if (output.output_type === 'error') {
        report.errors.push(`cell ${index}: ${output.ename}: ${output.evalue}`);
      } else if (output.output_type === 'stream' && output.name === 'stderr') {
        const text = Array.isArray(output.text) ? output.text.join('') : output.text;
        report.stderr.push(`cell ${index}: ${text.slice(0, 500)}`);
      } else if (output.data && output.data['%WIDGET%']) {
        report.widgetOutputs += 1;
      }
    }
  }
  return report;
}
""".replace("%WIDGET%", WIDGET_MIME)

# what the page shows: error outputs, tracebacks, widget views and whether they rendered
DOM_REPORT = """
({path}) => {
  const panel = window.__kmslabPanels[path];
  const root = panel.content.node;
  // a traceback's last line ("ZeroDivisionError: division by zero") says enough; the model has the rest
  const lastLine = (t) => t.trim().split('\\n').filter(l => l.trim()).pop() || '';
  const texts = (selector) => [...root.querySelectorAll(selector)].map(n => n.textContent);
  const visible = (n) => { const r = n.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const outputs = [...root.querySelectorAll('.jp-OutputArea-output')];
  const widgetOutputs = outputs.filter(n => n.querySelector('.jupyter-widgets') ||
      /Error displaying widget|Loading widget/.test(n.textContent));
  const broken = (n) => n.querySelector('.jupyter-widgets-error-widget') ||
      /Error displaying widget|Loading widget|Click to show javascript error/.test(n.textContent);
  return {
    errorOutputs: texts('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]').map(lastLine),
    stderrWithTraceback: texts('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
        .filter(t => t.includes('Traceback')).map(lastLine),
    tracebacks: texts('.jp-RenderedText').filter(t => t.includes('Traceback')).map(lastLine),
    widgetViews: widgetOutputs.length,
    widgetViewsVisible: widgetOutputs.filter(n => !broken(n) && visible(n.querySelector('.jupyter-widgets'))).length,
    brokenWidgets: widgetOutputs.filter(broken).map(n => n.textContent.trim().slice(0, 200)),
  };
}
"""

CLOSE = """
async ({path}) => {
  const panel = window.__kmslabPanels[path];
  delete window.__kmslabPanels[path];
  try { await panel.sessionContext.shutdown(); } finally { panel.dispose(); }
}
"""

SCROLLER = """
({path}) => {
  // scroll the notebook to its top; how tall its cells are (without the blank space JupyterLab adds
  // below the last cell so that it can be scrolled up)
  const panel = window.__kmslabPanels[path];
  const outer = panel.content.node.querySelector('.jp-WindowedPanel-outer') || panel.content.node;
  outer.scrollTop = 0;
  const cells = panel.content.node.querySelectorAll('.jp-Cell');
  const last = cells[cells.length - 1];
  const top = outer.getBoundingClientRect().top;
  const content = last ? last.getBoundingClientRect().bottom - top + 40 : outer.scrollHeight;
  return {content: Math.min(content, outer.scrollHeight), client: outer.clientHeight};
}
"""


# -- helpers -------------------------------------------------------------------------------------------

def open_and_run(page, name: str) -> dict:
    """Open ``name`` in JupyterLab, run all cells, wait until the kernel is idle; the model and page report."""
    started = time.monotonic()
    run = page.evaluate(OPEN_AND_RUN, {"path": name, "timeoutMs": RUN_TIMEOUT_MS})
    page.wait_for_function(KERNEL_IDLE, arg={"path": name, "idleMs": IDLE_MS}, polling=100,
                           timeout=RUN_TIMEOUT_MS)
    model = page.evaluate(MODEL_REPORT, {"path": name})
    dom = page.evaluate(DOM_REPORT, {"path": name})
    return {"run": run, "model": model, "dom": dom, "seconds": round(time.monotonic() - started, 1)}


def assert_ran_clean(name: str, report: dict) -> None:
    model, dom = report["model"], report["dom"]
    problems = []
    if report["run"]["ran"] is False:
        problems.append("Run All Cells stopped early (a cell raised)")
    if model["notRun"]:
        problems.append(f"code cells that did not run: {model['notRun']}")
    problems += [f"error output: {e}" for e in model["errors"]]
    problems += [f"stderr output with a traceback in the page, ending: {t[:300]}" for t in dom["stderrWithTraceback"]]
    problems += [f"error output in the page: {t[:300]}" for t in dom["errorOutputs"]]
    if dom["tracebacks"] and not dom["stderrWithTraceback"]:
        problems += [f"traceback shown in the page, ending: {t[:300]}" for t in dom["tracebacks"]]
    problems += [f"widget did not render: {t}" for t in dom["brokenWidgets"]]
    expected = _stored_widget_count(name)
    if model["widgetOutputs"] != expected:
        problems.append(f"{model['widgetOutputs']} widget outputs after the run, the stored notebook has {expected}")
    if dom["widgetViewsVisible"] != expected:
        problems.append(f"{dom['widgetViewsVisible']} visible widget views in the page, expected {expected}")
    assert not problems, f"{name} in JupyterLab:\n  " + "\n  ".join(problems)


@contextmanager
def taller_viewport(page, height: int):
    """Make the page ``height`` pixels tall for a while (capped), so that a screenshot holds more."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"],
                            "height": int(min(MAX_SCREENSHOT_HEIGHT, max(height, size["height"])))})
    try:
        page.wait_for_timeout(300)  # let the layout settle at the new size
        yield
    finally:
        page.set_viewport_size(size)


def notebook_screenshot(page, name: str, path: Path) -> None:
    """The whole notebook in one image, from its first cell: the viewport is made as tall as the notebook."""
    heights = page.evaluate(SCROLLER, {"path": name})
    chrome = page.viewport_size["height"] - heights["client"]
    with taller_viewport(page, heights["content"] + chrome):
        page.evaluate(SCROLLER, {"path": name})
        page.wait_for_timeout(100)
        page.screenshot(path=str(path))


def element_screenshot(locator, path: Path) -> None:
    """One output in one image: the viewport is made tall enough that no toolbar or status bar covers it."""
    page = locator.page
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box() or {"height": 0}
    with taller_viewport(page, int(box["height"]) + 600):
        locator.scroll_into_view_if_needed()
        locator.screenshot(path=str(path))


def close(page, name: str) -> None:
    page.evaluate(CLOSE, {"path": name})


# -- the tests -----------------------------------------------------------------------------------------

def assert_money_as_written(page, name: str) -> None:
    """Text between two `$` is LaTeX in JupyterLab (MathJax reads the rendered page): the cost notes, written
    "USD 1", must show as written, never typeset as maths."""
    written = (NOTEBOOKS / name).with_suffix(".md").read_text(encoding="utf-8").count("USD ")
    rendered = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown")
    maths = page.locator(".jp-MarkdownCell .jp-RenderedMarkdown mjx-container, "
                         ".jp-MarkdownCell .jp-RenderedMarkdown .MathJax")
    assert maths.count() == 0, f"{name}: typeset as maths in its Markdown: {maths.all_inner_texts()}"
    text = " ".join(rendered.all_inner_texts())
    assert text.count("USD ") >= written, f"{name}: {text.count('USD ')} amounts shown, {written} written"


@pytest.mark.parametrize("name", [n for n in NOTEBOOK_NAMES if n != PLAYGROUND_NOTEBOOK])
def test_notebook_runs_clean_in_jupyterlab(lab_page, screenshots, name):
    """Every cell runs in JupyterLab without an error, and the Markdown shows as written (no maths)."""
    try:
        report = open_and_run(lab_page, name)
        notebook_screenshot(lab_page, name, screenshots / f"{Path(name).stem}.png")
        print(f"{name}: ran in {report['seconds']} s; {report['dom']['widgetViews']} widget view(s)")
        assert_ran_clean(name, report)
        assert_money_as_written(lab_page, name)
    finally:
        close(lab_page, name)


def test_the_cost_notes_are_checked_in_the_browser():
    """The notebooks that state a price are among those run above (so their money is checked there)."""
    priced = [n for n in NOTEBOOK_NAMES if "USD " in (NOTEBOOKS / n).with_suffix(".md").read_text(encoding="utf-8")]
    assert len(priced) >= 3 and PLAYGROUND_NOTEBOOK not in priced, priced


def test_denied_user_playground_in_jupyterlab(lab_page, screenshots):
    """Notebook 04 runs clean; then its playground, used with the mouse, turns a refused Scan into an allowed one."""
    from playwright.sync_api import expect

    from kmslab.workbook import PlaygroundSettings, quiz

    name = PLAYGROUND_NOTEBOOK
    page = lab_page
    try:
        report = open_and_run(page, name)
        notebook_screenshot(page, name, screenshots / f"{Path(name).stem}.png")
        print(f"{name}: ran in {report['seconds']} s; {report['dom']['widgetViews']} widget view(s)")
        assert_ran_clean(name, report)

        playground = page.locator(".jp-OutputArea-output .kmslab-playground")
        expect(playground).to_have_count(1)
        playground.scroll_into_view_if_needed()
        outcome = playground.locator(".kmslab-playground-result")
        kms_in_iam = playground.get_by_role("checkbox", name=PlaygroundSettings.LABELS["kms_in_iam"])
        apply_button = playground.get_by_role("button", name="Apply and scan")
        # the notebook's last playground cell leaves: IAM allows DynamoDB only, root delegation on -> refused
        expect(outcome).to_contain_text("REFUSED")
        expect(kms_in_iam).not_to_be_checked()
        expect(playground.get_by_role("checkbox")).to_have_count(len(PlaygroundSettings.LABELS))
        element_screenshot(playground, screenshots / "04_playground_before.png")

        kms_in_iam.check()
        apply_button.click()
        expect(outcome).to_contain_text("ALLOWED", timeout=30_000)
        expect(outcome).not_to_contain_text("REFUSED")
        expect(outcome).to_contain_text("iam.put_user_policy")
        expect(kms_in_iam).to_be_checked()
        expect(apply_button).to_be_enabled()
        expect(apply_button).to_be_focused()  # the keyboard focus comes back to the button
        element_screenshot(playground, screenshots / "04_playground_after.png")

        # a quiz answers through its buttons too: the right option, then Check
        first_quiz = quiz(4, 1)
        quiz_view = page.locator(".jp-OutputArea-output .kmslab-quiz").first
        quiz_view.scroll_into_view_if_needed()
        quiz_view.get_by_role("radio", name=first_quiz.labels()[first_quiz.answer]).check()
        quiz_view.get_by_role("button", name="Check").click()
        expect(quiz_view).to_contain_text("✔ Correct", timeout=15_000)
        element_screenshot(quiz_view, screenshots / "04_quiz_answered.png")
    finally:
        close(page, name)


# -- the quizzes in a laptop-sized window ---------------------------------------------------------------

OVERFLOWING_OPTIONS = """
({path}) => {
  const panel = window.__kmslabPanels[path];
  return [...panel.content.node.querySelectorAll('.kmslab-quiz .widget-radio-box label')]
      .filter(l => l.scrollHeight > l.clientHeight + 2 || l.scrollWidth > l.clientWidth + 2)
      .map(l => `${l.textContent.slice(0, 50)}... (row ${l.clientWidth}x${l.clientHeight} px, ` +
                `text ${l.scrollWidth}x${l.scrollHeight} px)`);
}
"""


def _all_quizzes() -> list[str]:
    from kmslab.workbook import STEPS, quiz

    found = []
    for step in STEPS:
        for number in range(1, 10):
            try:
                quiz(step, number)
            except LookupError:
                break
            found.append(f"quiz({step}, {number})")
    return found


def test_quiz_options_fit_in_a_1280px_window_with_the_file_browser_open(lab_page, lab_server, screenshots):
    """Every quiz's options, each on its own row, in a common laptop layout (no wrapped option overlaps)."""
    refs = _all_quizzes()
    name = "zz_all_quizzes.ipynb"
    cells = [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
              "source": source} for source in ["from kmslab.workbook import quiz",
                                               *(f"{ref}.widget()" for ref in refs)]]
    (lab_server.root / name).write_text(json.dumps(
        {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                                     "language": "python"}},
         "nbformat": 4, "nbformat_minor": 5}))
    page = lab_page
    size = page.viewport_size
    page.set_viewport_size({"width": 1280, "height": 900})
    try:
        report = open_and_run(page, name)
        assert not report["model"]["errors"], report["model"]["errors"]
        assert report["model"]["widgetOutputs"] == len(refs)
        page.evaluate("() => window.jupyterapp.shell.expandLeft()")
        page.wait_for_timeout(500)
        overflowing = page.evaluate(OVERFLOWING_OPTIONS, {"path": name})
        notebook_screenshot(page, name, screenshots / "quizzes_1280px_file_browser_open.png")
        assert not overflowing, "quiz options that wrap and overlap what follows:\n  " + "\n  ".join(overflowing)
    finally:
        try:
            close(page, name)
        finally:
            page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            page.set_viewport_size(size)


