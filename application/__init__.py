"""The application layer: use cases grouped by bounded context, sharing one event store.

HTTP routers and the CLI call these; nothing here knows HTTP, and nothing in domain/ knows the store.
"""

from __future__ import annotations

from application.access import AccessKeys
from application.assessments import Assessments
from application.commissions import Commissions
from application.customers import Customers
from application.deals import Deals
from application.fx import Fx
from application.imports import Imports
from application.leads import Leads
from application.org import Org
from application.partners import Partners
from application.privacy import Privacy
from application.reads import ReadModels
from application.targets import Targets
from infrastructure.store import EventStore


class SalesLedger:
    """Every context's use cases over one event store (`ledger.org.hire_rep(...)`, ...)."""

    def __init__(self, store: EventStore, reads: ReadModels) -> None:
        self.store = store
        self.reads = reads
        self.org = Org(store, reads)
        self.targets = Targets(store)
        self.customers = Customers(store, reads)
        self.deals = Deals(store, reads)
        self.leads = Leads(store, reads)
        self.commissions = Commissions(store, reads)
        self.access = AccessKeys(store)
        self.privacy = Privacy(store)
        self.imports = Imports(store, reads)
        self.partners = Partners(store)
        self.assessments = Assessments(store, reads)
        self.fx = Fx(store)

    def close(self) -> None:
        self.store.close()
