"""Execute the notebooks with papermill, and convert the report to HTML without its code.

The notebooks take two parameters: ``paths``, every file their rule declares as input, by name
(they read nothing else), and ``repo_dir`` (for the package under ``scripts/``). They run with
the working directory at the workflow's, where the relative paths point. Outputs are written to
a temporary file and moved into place, so a notebook that fails leaves nothing that looks
complete.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ganaug.io import atomic_path

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""


FIT_FILES = ("fit_metrics", "fit_history", "fit_predictions")


def notebook_paths(inputs: dict) -> dict:
    """The ``paths`` parameter from a rule's named inputs: absolute paths, and the per-fit lists
    zipped into one record per fit."""

    def absolute(v):
        return [absolute(x) for x in v] if isinstance(v, list) else str(Path(v).resolve())

    paths = {k: absolute(v) for k, v in inputs.items() if k not in (*FIT_FILES, "notebook")}
    fits = zip(*(absolute(list(inputs.get(k, []))) for k in FIT_FILES), strict=True)
    paths["fits"] = [dict(zip(("metrics", "history", "predictions"), f, strict=True)) for f in fits]
    return paths


def execute(notebook: str | Path, out: str | Path, paths: dict, timeout_s: int = 1200) -> None:
    import papermill

    log.info("executing %s", notebook)
    with atomic_path(out, suffix=".ipynb") as tmp:
        papermill.execute_notebook(
            str(notebook),
            str(tmp),
            parameters={"paths": paths, "repo_dir": str(REPO)},
            kernel_name="python3",
            cwd=str(Path.cwd()),
            progress_bar=False,
            execution_timeout=timeout_s,
        )


def to_html(executed: str | Path, out: str | Path, title: str) -> None:
    """Self-contained HTML (figures inlined as data URIs), code cells and prompts hidden."""
    import nbformat
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    nb.metadata["title"] = title
    # the lab template loads require.js and MathJax from a CDN; the report has neither widgets nor
    # maths, and must open offline (cluster nodes, the tests), so those blocks are emptied
    offline = DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})
    exporter = HTMLExporter(
        extra_loaders=[offline],
        template_file="offline.html.j2",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    with atomic_path(out, suffix=".html") as tmp:
        Path(tmp).write_text(body, encoding="utf-8")


def notebook_rule(inputs: dict, out: str | Path) -> None:
    """The rule notebook: one analysis notebook (input ``notebook``) executed on the files the
    rule declares."""
    execute(inputs["notebook"], out, notebook_paths(inputs))


def report_rule(inputs: dict, notebook_out: str | Path, html_out: str | Path, title: str) -> None:
    """The rule report: the report notebook executed, then its HTML without the code."""
    execute(inputs["notebook"], notebook_out, notebook_paths(inputs))
    to_html(notebook_out, html_out, title)
