"""Layers, and what a Python function can import: its code, its layers' ``python`` directories
in order, then the runtime's own packages (boto3 and its dependencies), never the host's.

Follows "Managing Lambda dependencies with layers" and "Working with layers for Python Lambda
functions" (https://docs.aws.amazon.com/lambda/latest/dg/chapter-layers.html,
https://docs.aws.amazon.com/lambda/latest/dg/python-layers.html: the layer paths for each
runtime, layers extracted to /opt in the order given), and "Lambda runtimes" for what the
Python runtime includes (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
"""

import io
import json
import zipfile

import pytest

from tests.sandbox.helpers import invoke

pytestmark = [pytest.mark.sandbox, pytest.mark.timeout(60)]

REPORTER = """
import importlib, importlib.metadata, sys

def lambda_handler(event, context):
    found = {}
    for name in event["modules"]:
        try:
            module = importlib.import_module(name)
            found[name] = getattr(module, "__version__", "present")
        except ImportError:
            found[name] = None
    return {
        "found": found,
        "boto3": importlib.metadata.version("boto3"),
        "path": sys.path,
    }
"""


def zipped(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def publish(awslambda, name: str, files: dict[str, str]) -> str:
    answer = awslambda.publish_layer_version(
        LayerName=name, Content={"ZipFile": zipped(files)}, CompatibleRuntimes=["python3.11"]
    )
    return answer["LayerVersionArn"]


def test_a_layers_package_is_imported_instead_of_anything_else(awslambda, make_function):
    site = "python/lib/python3.11/site-packages"
    pinned = publish(
        awslambda, "pinned-requests", {f"{site}/requests/__init__.py": '__version__ = "2.32.4"\n'}
    )
    name = make_function(REPORTER, Layers=[pinned])

    answer = json.loads(invoke(awslambda, name, {"modules": ["requests"]})["Payload"])

    assert answer["found"] == {"requests": "2.32.4"}


def test_a_later_layer_replaces_an_earlier_ones_files(awslambda, make_function):
    first = publish(awslambda, "shared-first", {"python/shared.py": '__version__ = "first"\n'})
    second = publish(awslambda, "shared-second", {"python/shared.py": '__version__ = "second"\n'})
    name = make_function(REPORTER, Layers=[first, second])

    answer = json.loads(invoke(awslambda, name, {"modules": ["shared"]})["Payload"])

    assert answer["found"] == {"shared": "second"}


def test_without_layers_only_the_runtimes_packages_are_importable(awslambda, make_function):
    name = make_function(REPORTER)

    answer = json.loads(
        invoke(
            awslambda,
            name,
            {"modules": ["boto3", "botocore", "requests", "moto", "django", "awslambdaric"]},
        )["Payload"]
    )

    found = answer["found"]
    assert found["boto3"] == answer["boto3"]
    assert found["botocore"] and found["awslambdaric"]
    assert (found["requests"], found["moto"], found["django"]) == (None, None, None)


def test_the_code_comes_first_then_the_layers_python_paths(awslambda, make_function):
    layer = publish(awslambda, "path-order", {"python/marker.py": ""})
    name = make_function(REPORTER, Layers=[layer])

    path = json.loads(invoke(awslambda, name, {"modules": []})["Payload"])["path"]

    code, layer_site, layer_python = [entry for entry in path if entry][:3]
    assert layer_site.endswith("/python/lib/python3.11/site-packages")
    assert layer_python.endswith("/python")
    assert layer_site.rsplit("/python/lib", 1)[0] == layer_python.rsplit("/python", 1)[0]
    assert code != layer_python


def test_a_function_changed_to_new_layers_gets_them(awslambda, make_function):
    old = publish(awslambda, "swap-old", {"python/swapped.py": '__version__ = "old"\n'})
    new = publish(awslambda, "swap-new", {"python/swapped.py": '__version__ = "new"\n'})
    name = make_function(REPORTER, Layers=[old])
    invoke(awslambda, name, {"modules": ["swapped"]})

    awslambda.update_function_configuration(FunctionName=name, Layers=[new])
    answer = json.loads(invoke(awslambda, name, {"modules": ["swapped"]})["Payload"])

    assert answer["found"] == {"swapped": "new"}


def test_a_layer_with_an_extension_is_refused_not_silently_ignored(awslambda, make_function):
    layer = publish(awslambda, "with-extension", {"extensions/telemetry": "#!/bin/sh\n"})
    name = make_function(REPORTER, Layers=[layer])

    response = invoke(awslambda, name, {"modules": []})

    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"])["errorType"] == "Sandbox.NotEmulated"
