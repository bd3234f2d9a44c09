"""The divergence-driven active-learning campaign (DESIGN.md §1): steps, state, stopping, resume.

``run_campaign(config)`` starts or continues a run; ``resume_campaign(run_dir)`` continues one
after a crash or a kill. See :mod:`qaware.campaign.loop`.
"""

from qaware.campaign.loop import CampaignResult, resume_campaign, run_campaign
from qaware.campaign.state import STEPS, CampaignState, CycleSummary
from qaware.campaign.stopping import retrain_due, stop_reason

__all__ = [
    "STEPS",
    "CampaignResult",
    "CampaignState",
    "CycleSummary",
    "resume_campaign",
    "retrain_due",
    "run_campaign",
    "stop_reason",
]
