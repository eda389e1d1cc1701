"""The layout the code promises in docs/architecture.md, checked from the source.

Who may import whom is import-linter's job (the contracts in pyproject.toml, run by `make lint`
and here); this module proves those contracts can fail, and checks what import-linter cannot
express: that nothing below the web edge reads a web request, and that the folders stay small
enough to show their parts."""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["invocations", "alerts", "dashboard", "sandbox"]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# The web edge: the modules Django hands a request to (views, forms, admin, middleware, template
# tags, the sign-in signals, URL and settings glue). Everything else takes an Actor.
WEB_EDGE = (
    "invocations/views/",
    "invocations/forms/",
    "invocations/templatetags/",
    "invocations/admin.py",
    "invocations/admin_audit.py",
    "invocations/admin_people.py",
    "invocations/admin_lists.py",
    "invocations/middleware.py",
    "invocations/context_processors.py",
    "invocations/signals.py",
    "invocations/access/login.py",
    "alerts/views.py",
    "alerts/forms.py",
    "alerts/admin.py",
    "alerts/templatetags/",
    "dashboard/",
    "sandbox/",
)


def _python_files(package: str):
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.parts:
            yield path


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_the_import_contracts_hold():
    result = _lint_imports(ROOT)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_contracts_catch_a_circle_a_broken_layer_alerts_in_the_core_and_boto3_outside_aws(
    tmp_path,
):
    # The project's own contracts on a copy of its code with four faults put in, each an import
    # inside a function (the kind an ast-less check would miss).
    for package in PRODUCT:
        shutil.copytree(ROOT / package, tmp_path / package)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    faults = {
        # a model reaching up into a view: the layers
        "invocations/models/record.py": "from invocations.views import records",
        # the core calling into the alerts app
        "invocations/ops/health.py": "from alerts import health",
        # two parts importing each other (ingest already imports failures)
        "invocations/failures/grouping.py": "from invocations.ingest import polling",
        # a use case calling AWS itself instead of through invocations.aws
        "invocations/invoking/inventory.py": "import boto3",
    }
    for relative, statement in faults.items():
        path = tmp_path / relative
        path.write_text(path.read_text() + f"\n\ndef _fault():\n    {statement}\n")

    result = _lint_imports(tmp_path)

    assert result.returncode != 0
    report = result.stdout
    assert "Web edge -> use cases -> models, AWS and pure rules BROKEN" in report
    assert "The core never imports the alerts app" in report and "alerts app" in report
    assert "No circle between the parts of a package BROKEN" in report
    assert "Only invocations.aws imports boto3 and botocore BROKEN" in report
    assert re.search(r"Contracts: \d+ kept, 4 broken\.", report)


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
            if any(argument.arg == "request" for argument in arguments):
                found.append(f"{node.name}() takes a request")
        elif isinstance(node, ast.Name | ast.Attribute):
            name = node.id if isinstance(node, ast.Name) else node.attr
            if name == "HttpRequest":
                found.append("uses HttpRequest")
    return found


def test_nothing_below_the_web_edge_reads_a_request():
    offenders = {}
    for package in PRODUCT:
        for path in _python_files(package):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(WEB_EDGE):
                continue
            if found := _offences(path):
                offenders[relative] = found

    assert offenders == {}


def test_the_request_check_sees_a_use_case_that_takes_a_request(tmp_path):
    use_case = tmp_path / "use_case.py"
    use_case.write_text(
        "from django.http import HttpRequest\n\n"
        "def watch(queue, *, request: HttpRequest) -> None: ...\n"
    )

    assert _offences(use_case) == ["watch() takes a request", "uses HttpRequest"]


@pytest.mark.parametrize(
    "folder",
    [ROOT / "invocations"] + sorted(p.parent for p in (ROOT / "invocations").glob("*/__init__.py")),
    ids=lambda folder: folder.relative_to(ROOT).as_posix(),
)
def test_each_folder_holds_few_enough_modules_to_read(folder):
    modules = [p.name for p in folder.glob("*.py") if p.name != "__init__.py"]
    limit = 14 if folder == ROOT / "invocations" else 16
    if folder.name in {"migrations"}:
        pytest.skip("migrations are numbered, not named by part")

    assert len(modules) <= limit, sorted(modules)


def test_no_list_is_paged_by_hand():
    # Every AWS list goes through boto3's paginators (invocations/aws/): a loop over NextMarker
    # or NextToken is where a real account's second page used to be forgotten.
    offenders = [
        path.relative_to(ROOT).as_posix()
        for package in ("invocations", "alerts", "dashboard")
        for path in _python_files(package)
        if "NextMarker" in path.read_text("utf-8") or "NextToken" in path.read_text("utf-8")
    ]

    assert offenders == []
