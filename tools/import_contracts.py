"""A custom import-linter contract: no import cycle between modules, at any depth.

``acyclic_siblings`` (import-linter's own) squashes sibling packages, so it does not see
a cycle through a package's ``__init__`` (``pkg.rules -> pkg -> pkg.models -> pkg.rules``).
This contract looks at every module and every import grimp found, including those under
``TYPE_CHECKING`` and inside functions.
"""

from __future__ import annotations

from typing import Any

from importlinter.application import output
from importlinter.domain import fields
from importlinter.domain.contract import Contract, ContractCheck

__all__ = ("AcyclicModulesContract",)

_MAX_SHOWN = 10


class AcyclicModulesContract(Contract):
    """No module of ``containers`` reaches itself through its imports."""

    type_name = "acyclic_modules"

    containers = fields.ListField(subfield=fields.StringField())

    def check(self, graph: Any, verbose: bool) -> ContractCheck:
        """Look for the shortest cycle through each direct import."""
        roots = tuple(str(name) for name in self.containers)  # type: ignore[attr-defined]
        inside = [m for m in graph.modules if m in roots or m.startswith(tuple(r + "." for r in roots))]
        cycles: set[tuple[str, ...]] = set()
        for module in sorted(inside):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                chain = graph.find_shortest_chain(importer=imported, imported=module)
                if chain:
                    loop = (module, *chain)
                    start = loop.index(min(loop[:-1]))  # one spelling per cycle
                    cycles.add(loop[start:-1] + loop[:start] + (loop[start],))
        return ContractCheck(kept=not cycles, warnings=None, metadata={"cycles": sorted(cycles)})

    def render_broken_contract(self, check: ContractCheck) -> None:
        """List the cycles found, shortest first."""
        cycles = sorted(check.metadata["cycles"], key=len)
        output.print_error(f"{len(cycles)} import cycle(s):")
        output.new_line()
        for cycle in cycles[:_MAX_SHOWN]:
            output.print_error("- " + " -> ".join(cycle))
        output.new_line()
