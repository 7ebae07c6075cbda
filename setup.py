"""Package discovery for the layout in docs/decisions/0001-package-layout.md.

`agents/` and `flows/` are top-level folders (the product brief fixes them) that install as
`llmgenie.agents` and `llmgenie.flows`; `find_packages` cannot rename, so this does.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["llmgenie", "llmgenie.*"])
for folder in ("agents", "flows"):
    packages += [f"llmgenie.{name}" for name in find_packages(include=[folder, f"{folder}.*"])]

setup(packages=packages)
