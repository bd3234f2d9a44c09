"""Campaign persistence: the ase.db store, the candidate state machine, the run directory.

Only the driver process writes to a store; workers hand their results back to it.
"""

from qaware.store.ase_store import CallRecord, CampaignStore
from qaware.store.events import EventLog
from qaware.store.keys import oracle_call_key
from qaware.store.run_directory import RunDirectory
from qaware.store.states import CallStatus, CandidateStatus, check_transition

__all__ = [
    "CallRecord",
    "CallStatus",
    "CampaignStore",
    "CandidateStatus",
    "EventLog",
    "RunDirectory",
    "check_transition",
    "oracle_call_key",
]
