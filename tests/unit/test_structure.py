"""The house rules that keep the code easy to live in, checked: short functions, thin rule
scripts, weights.py as a leaf, imports that run one way, and a workflow that parses without
torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import REPO

PACKAGE = REPO / "scripts" / "ganaug"
MAX_FUNCTION_LINES = 60


def functions(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def imports_of(path: Path) -> set[str]:
    """The ganaug modules ``path`` imports, at any depth (lazy imports included)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganaug"):
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("ganaug")}
    return out


def test_no_function_is_longer_than_a_screen():
    """Held as the formatter writes them: no ``# fmt: skip`` in the package packs a function
    under the limit."""
    long = [
        f"{p.relative_to(REPO)}:{f.name} ({f.end_lineno - f.lineno + 1} lines)"
        for p in sorted(PACKAGE.rglob("*.py"))
        for f in functions(p)
        if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert long == []
    skips = [
        str(p.relative_to(REPO)) for p in sorted(PACKAGE.rglob("*.py")) if "# fmt: " + "skip" in p.read_text()
    ]
    assert skips == []


def test_rule_scripts_are_thin():
    """Read snakemake.*, set up logging, call one package function: no loops, no branches, no
    definitions."""
    for script in sorted((REPO / "scripts").glob("*.py")):
        tree = ast.parse(script.read_text())
        kinds = ast.For | ast.While | ast.If | ast.FunctionDef | ast.ClassDef | ast.With
        logic = [type(n).__name__ for n in ast.walk(tree) if isinstance(n, kinds)]
        assert logic == [], f"{script.name}: {logic}"
        assert len(script.read_text().splitlines()) <= 25, script.name


def test_weights_is_a_leaf():
    assert imports_of(PACKAGE / "weights.py") <= {"ganaug.data.download"}


def test_the_registry_and_the_config_modules_import_no_consumer():
    for module in (
        "models/registry.py",
        "config.py",
        "config_checks.py",
        "primary.py",
        "settings.py",
        "pretrained.py",
        "data/sources.py",
    ):
        deps = imports_of(PACKAGE / module)
        consumers = {d for d in deps if d.split(".")[1] in ("curation", "evaluation", "training")}
        consumers |= {d for d in deps if d == "ganaug.models.classifiers"}
        lazy_ok = module == "pretrained.py"  # its verifiers reach the consumers lazily, one way
        assert lazy_ok or not consumers, (module, consumers)


def test_no_consumer_imports_the_config_modules_back_into_weights():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "ganaug.pretrained" in imports_of(path):
            assert path.name in ("pretrained.py",), path


def test_parsing_the_workflow_imports_no_torch():
    """What common.smk imports while the Snakefile is parsed, and what it calls for the weight
    files, must not load torch (it cost seconds on every dry run)."""
    code = (
        "import sys, yaml; sys.path.insert(0, 'scripts');"
        "import ganaug.config, ganaug.data.sources, ganaug.settings, ganaug.pretrained;"
        "from ganaug.config import validate_config;"
        "from ganaug.pretrained import required_files;"
        "cfg = validate_config(yaml.safe_load(open('config/config.yaml')));"
        "required_files(cfg);"
        "print(sorted(m for m in ('torch', 'torchvision', 'timm', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("notebook", sorted((REPO / "notebooks").glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_read_only_their_declared_paths(notebook):
    text = notebook.read_text()
    assert ".glob(" not in text and "results_dir" not in text
    assert "paths = {}" in text  # the papermill parameter


def _rule_blocks():
    """(rule script name, {params name: (provider, stage)}) for every rule in workflow/rules."""
    import re

    for smk in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=\s*rule \w+:)", smk.read_text()):
            script = re.search(r'rule_script\("(\w+)"\)', block)
            if script:
                # curation's params are per generator: lambda wc: curation_params(CUR, "blur", ...)
                found = re.findall(r'(\w+)=(?:lambda \w+: )?(\w+_params)\(\w+, "(\w+)"', block)
                yield script.group(1), {name: (provider, stage) for name, provider, stage in found}


def test_every_rule_script_call_binds_to_its_entry_function():
    """A rule script passes its rule's params with ``**``: each key must be a parameter of the
    entry function, and every parameter without a default must be given. Checked here against
    the default config, so a key missing from a stage's key list fails here, not in a run."""
    import importlib
    import inspect

    from ganaug import settings
    from ganaug.config import validate_config

    cfg = validate_config({})
    checked = 0
    for script, params in _rule_blocks():
        tree = ast.parse((REPO / "scripts" / f"{script}.py").read_text())
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        imported = {a.asname or a.name: node.module for node in imports for a in node.names}
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)):
            star = [k for k in call.keywords if k.arg is None]
            if not star or not isinstance(star[0].value, ast.Attribute) or star[0].value.attr not in params:
                continue
            provider, stage = params[star[0].value.attr]
            section = {"data_params": "data", "curation_params": "curation",
                       "evaluation_params": "evaluation"}[provider]  # fmt: skip
            extra = ("wgan_gp",) if provider == "curation_params" else ()  # the generator
            keys = getattr(settings, provider)(cfg[section], stage, *extra)
            fn = getattr(importlib.import_module(imported[call.func.id]), call.func.id)
            explicit = {k.arg: None for k in call.keywords if k.arg is not None}
            try:
                inspect.signature(fn).bind(*([None] * len(call.args)), **explicit, **keys)
            except TypeError as err:
                pytest.fail(f"scripts/{script}.py -> {call.func.id}: {err}")
            checked += 1
    assert checked >= 10  # every script that passes a section's keys with **


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO / "scripts").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Each ganaug module -> the ganaug modules it imports, lazily or not (``from a import b``
    where b is a module counts as importing a.b; importing a.b runs a's __init__ too)."""
    modules = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ganaug"):
                subs = {f"{node.module}.{a.name}" for a in node.names} & set(modules)
                deps |= subs or {node.module}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("ganaug")}
        for d in list(deps):  # the packages above a module run first
            parts = d.split(".")
            deps |= {".".join(parts[:k]) for k in range(2, len(parts))}
        graph[name] = {d for d in deps if d in modules and d != name and not name.startswith(d + ".")}
    return graph


def test_the_package_imports_one_way():
    """No cycle in the package's imports, lazy ones included (ablation -> viz -> reporting ->
    ablation was one, hidden by a lazy import)."""
    graph = _import_graph()
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join([*stack[stack.index(dep) :], dep]))
            elif dep not in state:
                visit(dep, [*stack, dep])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


MAX_MODULE_LINES = 400


def test_every_module_is_at_most_400_lines():
    """One concept a module: none grows past 400 lines (split it along its seams)."""
    long = [
        f"{p.relative_to(REPO)} ({n} lines)"
        for p in sorted(PACKAGE.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert long == []


def _family_words():
    """Each registered family's folder, and a pattern of its name and label (the way code, docs
    and messages name it), as whole words in any case."""
    import inspect
    import re

    from ganaug.generators import FAMILIES

    words = sorted({w for f in FAMILIES.values() for w in (f.name, f.label)}, key=len, reverse=True)
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, words)) + r")(?![A-Za-z0-9])", re.I)
    folders = {Path(inspect.getfile(f.config)).parent for f in FAMILIES.values()}
    return folders, pattern


def test_nothing_outside_a_family_folder_names_a_family():
    """The package, the rule scripts and the rules name no generator family, in code, comments or
    messages, except in the family's own folder and on the registry's one line per family: a
    new family moves into its folder without edits elsewhere (its config and docs aside)."""
    folders, pattern = _family_words()
    files = [
        *PACKAGE.rglob("*.py"),
        *(REPO / "scripts").glob("*.py"),
        *(REPO / "workflow").rglob("*.smk"),
        REPO / "workflow" / "Snakefile",
    ]
    found = []
    for path in sorted(files):
        if any(folder in path.parents for folder in folders):
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not line.startswith("_MODULES = ("):
                found.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert found == []


def test_the_family_name_test_finds_a_family_name():
    """The pattern above matches the ways a family is named (a check that it can fail)."""
    folders, pattern = _family_words()
    from ganaug.generators import FAMILIES

    for fam in FAMILIES.values():
        assert pattern.search(f"x = {fam.name!r}") and pattern.search(f"# the {fam.label}'s loop")
        assert pattern.search(f"train_{fam.name}") and not pattern.search(f"x{fam.name}y")
    assert len(folders) == len(FAMILIES)
