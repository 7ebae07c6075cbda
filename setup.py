"""Package discovery for the layout in docs/decisions/0020-four-layers-one-import-name.md.

The four layers are top-level folders — `core/`, `agents/`, `flows/`, `interfaces/` — and each
installs under the one import name `llmgenie` (`llmgenie.core`, `llmgenie.agents`, …).
`find_packages` cannot rename, so this does. `llmgenie/` itself holds only the package root
(`__init__`, `__main__`).
"""

from setuptools import find_packages, setup

LAYERS = ("core", "agents", "flows", "interfaces")

packages = ["llmgenie"]
for folder in LAYERS:
    packages += [f"llmgenie.{name}" for name in find_packages(include=[folder, f"{folder}.*"])]

setup(packages=packages)
