"""The checklist kinds: one table. A kind declares the local days it is posted on, how its
data is built, its items and its template; recording it exactly once, catch-up, checkbox
ticks, redraws and posting to every bound channel are written once for all kinds
(bot/checklists/records.py, jobs/tick.py, jobs/checklist_messages.py). Adding a kind is a
module with `KIND = ChecklistKind(...)` (bot/checklists/kind.py), one entry below and its
template.
"""

from __future__ import annotations

from bot.checklists import daily, monthly, weekly
from bot.checklists.kind import ChecklistKind

CHECKLISTS: dict[str, ChecklistKind] = {k.name: k for k in (
    daily.KIND,
    weekly.KIND,
    monthly.KIND,
)}
