"""The Exchange knowledge base: builds, CUs/SUs, CVEs and their fixes, and the exposure decision.

```python
from exaudit.kb import load_kb, parse_build
kb = load_kb()                         # packaged data, $EXAUDIT_KB_DIR, or load_kb(folder)
info = kb.identify(parse_build("15.1.2176.9"))
statuses = kb.assess(info.build)       # exaudit.model.CveStatus for every CVE, stable order
```

Data format, sources, decision rules and the update path: ``docs/kb.md``.
"""

from exaudit.kb.builds import Build, BuildError, parse_build, product_of
from exaudit.kb.knowledge import BuildInfo, KnowledgeBase, clear_cache, load_kb
from exaudit.kb.tables import CveInfo, KbError

__all__ = [
    "Build",
    "BuildError",
    "BuildInfo",
    "CveInfo",
    "KbError",
    "KnowledgeBase",
    "clear_cache",
    "load_kb",
    "parse_build",
    "product_of",
]
