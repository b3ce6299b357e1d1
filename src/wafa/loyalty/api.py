"""/api/v1 loyalty: status and ledger, adjustments, rewards, redemptions, coupons,
stamp cards, tiers, referrals, leaderboard, the point of sale, program settings and
the points liability.

Scopes: ``read`` for every GET; ``write`` for what a shop or a cashier does
(adjust, redeem, use or validate a coupon, record a purchase, keep the catalogue
of rewards, stamp cards and campaign codes, as products are kept); ``admin`` for
the program's settings, tier overrides and recalculation, and the referral review.
Every POST honours ``Idempotency-Key``.

About 540 lines of thin routes, one per operation, each handing over to the service.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from wafa.api.deps import (
    AppSettings,
    DbSession,
    Idempotent,
    MayAdjustPoints,
    MayCreateCoupons,
    MayEditProgram,
    MayEditRewards,
    MayReviewReferrals,
    MayViewReports,
    Reader,
    ReadSession,
    Writer,
)
from wafa.api.routing import AutoCommitRoute
from wafa.auth.permissions import check_adjustment
from wafa.core.calendars import from_ymd
from wafa.core.errors import Invalid
from wafa.loyalty import coupons, jobs, pos, referrals, rewards, service, stamps, streaks, tiers
from wafa.loyalty.models import Coupon, PointsEntry, Referral, Reward, StampCard
from wafa.loyalty.program import rules_at
from wafa.loyalty.schemas.io import (
    AdjustmentCreate,
    BadgeRead,
    CouponCreate,
    CouponPage,
    CouponRead,
    CouponRedeem,
    CouponUseRead,
    CouponValidate,
    CouponValidation,
    CouponVoid,
    Leaderboard,
    LeaderboardOptIn,
    LedgerEntryRead,
    LedgerPage,
    Liability,
    LoyaltyStatus,
    PosAttach,
    PosCustomer,
    PosEnrol,
    PosPurchase,
    PosResult,
    PosSummary,
    ProgramRead,
    ProgramUpdate,
    ProgramVersionRead,
    RedemptionCreate,
    RedemptionRead,
    ReferralApply,
    ReferralInfo,
    ReferralPage,
    ReferralRead,
    ReferralReview,
    RewardCreate,
    RewardRead,
    RewardUpdate,
    StampCardCreate,
    StampCardRead,
    StampCardUpdate,
    StampInfo,
    TierChangeRead,
    TierOverrideIn,
    TierPreview,
    TierPreviewIn,
    TiersRead,
)

router = APIRouter(tags=["loyalty"], route_class=AutoCommitRoute)

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (at most 200).")]
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --------------------------------------------------------------------------- program


@router.get("/loyalty/program", response_model=ProgramRead)
def get_program(session: ReadSession, settings: AppSettings, _: Reader) -> ProgramRead:
    return service.get_program(session, settings=settings)


@router.put("/loyalty/program", response_model=ProgramRead)
def update_program(
    body: ProgramUpdate, session: DbSession, settings: AppSettings, who: MayEditProgram
) -> ProgramRead:
    return service.update_program(
        session,
        settings=settings,
        rules=body.rules,
        by=who.label,
        effective_from=body.effective_from,
        note=body.note,
    )


@router.get("/loyalty/program/versions", response_model=list[ProgramVersionRead])
def program_versions(session: ReadSession, _: Reader) -> list[Any]:
    return service.program_versions(session)


@router.post("/loyalty/program/tier-preview", response_model=TierPreview, dependencies=[Idempotent])
def tier_preview(
    body: TierPreviewIn, session: DbSession, settings: AppSettings, _: MayEditProgram
) -> TierPreview:
    return service.preview_tiers(session, settings=settings, proposed=body.tiers)


@router.get("/loyalty/tiers", response_model=TiersRead)
def list_tiers(session: ReadSession, settings: AppSettings, _: Reader) -> TiersRead:
    return service.tiers_overview(session, settings=settings)


@router.post("/loyalty/tiers/recalculate")
def recalculate_tiers(
    request: Request, settings: AppSettings, who: MayEditProgram
) -> dict[str, int]:
    # In batches, each its own transaction (naturally idempotent: a repeat changes nothing),
    # so no Idempotency-Key claim holds the request's transaction open around them.
    return {
        "changed": tiers.recalculate_in_batches(
            request.app.state.write_sessions, settings=settings, by=who.label
        )
    }


@router.get("/loyalty/liability", response_model=Liability)
def liability(session: ReadSession, settings: AppSettings, _: MayViewReports) -> Liability:
    return service.liability(session, settings=settings)


@router.get("/loyalty/leaderboard", response_model=Leaderboard)
def leaderboard(
    session: ReadSession,
    settings: AppSettings,
    who: MayViewReports,
    month: Annotated[str | None, Query(description="YYYY-MM in the business calendar.")] = None,
) -> Leaderboard:
    day = None
    if month is not None:
        found = _MONTH.match(month)
        if not found or not 1 <= int(found.group(2)) <= 12:
            raise Invalid.field(("query", "month"), "use YYYY-MM")
        day = from_ymd(int(found.group(1)), int(found.group(2)), 1, settings.calendar)
    return streaks.leaderboard(
        session,
        settings=settings,
        rules=rules_at(session, settings).rules,
        month=day,
        staff=who.kind == "staff",
    )


@router.get("/loyalty/jobs")
def job_runs(session: ReadSession, _: MayViewReports) -> list[dict[str, Any]]:
    return [
        {
            "job": r.job,
            "run_on": r.run_on.isoformat(),
            "status": r.status,
            "processed": r.processed,
            "started_at": r.started_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        }
        for r in jobs.job_runs(session)
    ]


# --------------------------------------------------------------------------- members


@router.get("/customers/{customer_id}/loyalty", response_model=LoyaltyStatus)
def loyalty_status(
    customer_id: uuid.UUID, session: ReadSession, settings: AppSettings, _: Reader
) -> LoyaltyStatus:
    return service.status(session, settings=settings, customer_id=customer_id)


@router.get("/customers/{customer_id}/loyalty/ledger", response_model=LedgerPage)
def loyalty_ledger(
    customer_id: uuid.UUID,
    session: ReadSession,
    _: Reader,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = service.ledger_page(session, customer_id=customer_id, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": nxt}


@router.post(
    "/customers/{customer_id}/adjustments",
    status_code=201,
    response_model=LedgerEntryRead,
    dependencies=[Idempotent],
)
def adjust(
    customer_id: uuid.UUID,
    body: AdjustmentCreate,
    session: DbSession,
    settings: AppSettings,
    who: MayAdjustPoints,
) -> PointsEntry:
    check_adjustment(who.adjust_limit, body.points)
    return service.adjust(
        session,
        settings=settings,
        customer_id=customer_id,
        points=body.points,
        reason=body.reason,
        by=who.label,
        expires_at=body.expires_at,
    )


@router.get("/customers/{customer_id}/loyalty/tier-history", response_model=list[TierChangeRead])
def tier_history(customer_id: uuid.UUID, session: ReadSession, _: Reader) -> list[Any]:
    return tiers.history(session, customer_id)


@router.post(
    "/customers/{customer_id}/tier-override",
    response_model=LoyaltyStatus,
    dependencies=[Idempotent],
)
def tier_override(
    customer_id: uuid.UUID,
    body: TierOverrideIn,
    session: DbSession,
    settings: AppSettings,
    who: MayAdjustPoints,
) -> LoyaltyStatus:
    return service.override_tier(
        session,
        settings=settings,
        customer_id=customer_id,
        tier=body.tier,
        until=body.until,
        reason=body.reason,
        by=who.label,
    )


@router.get("/customers/{customer_id}/stamps", response_model=list[StampInfo])
def customer_stamps(customer_id: uuid.UUID, session: ReadSession, _: Reader) -> list[Any]:
    return stamps.progress_of(session, customer_id)


@router.get("/customers/{customer_id}/badges", response_model=list[BadgeRead])
def customer_badges(customer_id: uuid.UUID, session: ReadSession, _: Reader) -> list[Any]:
    return streaks.badges_of(session, customer_id)


@router.get("/customers/{customer_id}/coupons", response_model=list[CouponRead])
def customer_coupons(customer_id: uuid.UUID, session: ReadSession, _: Reader) -> list[Coupon]:
    items, _next = coupons.list_coupons(session, customer_id=customer_id, limit=200)
    return items


@router.post(
    "/customers/{customer_id}/leaderboard",
    dependencies=[Idempotent],
    response_model=LeaderboardOptIn,
)
def leaderboard_opt_in(
    customer_id: uuid.UUID,
    body: LeaderboardOptIn,
    session: DbSession,
    settings: AppSettings,
    _: Writer,
) -> LeaderboardOptIn:
    streaks.set_opt_in(session, settings=settings, customer_id=customer_id, opt_in=body.opt_in)
    return body


# --------------------------------------------------------------------------- rewards


@router.get("/rewards", response_model=list[RewardRead])
def list_rewards(
    session: ReadSession,
    _: Reader,
    active: Annotated[bool, Query(description="Only what can be redeemed now.")] = False,
) -> list[Reward]:
    return rewards.list_rewards(session, active_only=active)


@router.post("/rewards", status_code=201, response_model=RewardRead, dependencies=[Idempotent])
def create_reward(
    body: RewardCreate, session: DbSession, settings: AppSettings, _: MayEditRewards
) -> Reward:
    return rewards.create_reward(session, settings=settings, data=body)


@router.get("/rewards/{reward_id}", response_model=RewardRead)
def get_reward(reward_id: uuid.UUID, session: ReadSession, _: Reader) -> Reward:
    return rewards.get_reward(session, reward_id)


@router.patch("/rewards/{reward_id}", response_model=RewardRead)
def update_reward(
    reward_id: uuid.UUID,
    body: RewardUpdate,
    session: DbSession,
    settings: AppSettings,
    _: MayEditRewards,
) -> Reward:
    return rewards.update_reward(session, settings=settings, reward_id=reward_id, data=body)


@router.get("/customers/{customer_id}/redemptions", response_model=list[RedemptionRead])
def list_redemptions(
    customer_id: uuid.UUID, session: ReadSession, _: Reader
) -> list[RedemptionRead]:
    return service.customer_redemptions(session, customer_id=customer_id)


@router.post(
    "/customers/{customer_id}/redemptions",
    status_code=201,
    response_model=RedemptionRead,
    dependencies=[Idempotent],
    responses={409: {"description": "insufficient-points, out-of-stock or reward-unavailable"}},
)
def redeem(
    customer_id: uuid.UUID,
    body: RedemptionCreate,
    session: DbSession,
    settings: AppSettings,
    who: Writer,
) -> RedemptionRead:
    return service.redeem_reward(
        session, settings=settings, customer_id=customer_id, reward_id=body.reward_id, by=who.label
    )


@router.post(
    "/redemptions/{redemption_id}/cancel", response_model=RedemptionRead, dependencies=[Idempotent]
)
def cancel_redemption(
    redemption_id: uuid.UUID, session: DbSession, settings: AppSettings, who: Writer
) -> RedemptionRead:
    return service.cancel_redemption(
        session, settings=settings, redemption_id=redemption_id, by=who.label
    )


# --------------------------------------------------------------------------- coupons


@router.get("/coupons", response_model=CouponPage)
def list_coupons(
    session: ReadSession,
    _: Reader,
    customer_id: uuid.UUID | None = None,
    source: str | None = None,
    status: str | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = coupons.list_coupons(
        session, customer_id=customer_id, source=source, status=status, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": nxt}


@router.post("/coupons", status_code=201, response_model=CouponRead, dependencies=[Idempotent])
def create_coupon(
    body: CouponCreate, session: DbSession, settings: AppSettings, who: MayCreateCoupons
) -> Coupon:
    return coupons.create_campaign(session, settings=settings, data=body, by=who.label)


@router.post(
    "/coupons/validate",
    response_model=CouponValidation,
    response_model_exclude_none=True,
    dependencies=[Idempotent],
)
def validate_coupon(body: CouponValidate, session: DbSession, _: Writer) -> CouponValidation:
    return service.validate_coupon(
        session,
        code=body.code,
        customer_id=body.customer_id,
        subtotal=body.subtotal,
        lines=body.lines,
    )


@router.get("/coupons/{code}", response_model=CouponRead)
def get_coupon(code: str, session: ReadSession, _: Reader) -> Coupon:
    return coupons.get_coupon(session, code)


@router.post("/coupons/{code}/void", response_model=CouponRead, dependencies=[Idempotent])
def void_coupon(code: str, body: CouponVoid, session: DbSession, who: MayCreateCoupons) -> Coupon:
    return coupons.void(session, code=code, reason=body.reason, by=who.label)


@router.post(
    "/coupons/{code}/redeem",
    status_code=201,
    response_model=CouponUseRead,
    dependencies=[Idempotent],
    responses={409: {"description": "coupon-rejected, with the reason"}},
)
def redeem_coupon(code: str, body: CouponRedeem, session: DbSession, who: Writer) -> Any:
    return service.use_coupon(
        session,
        code=code,
        order_ref=body.order_ref,
        customer_id=body.customer_id,
        subtotal=body.subtotal,
        lines=body.lines,
        by=who.label,
    )


# --------------------------------------------------------------------------- stamp cards


@router.get("/stamp-cards", response_model=list[StampCardRead])
def list_stamp_cards(session: ReadSession, _: Reader) -> list[StampCard]:
    return stamps.list_cards(session)


@router.post(
    "/stamp-cards", status_code=201, response_model=StampCardRead, dependencies=[Idempotent]
)
def create_stamp_card(body: StampCardCreate, session: DbSession, _: MayEditRewards) -> StampCard:
    return stamps.create_card(session, data=body)


@router.patch("/stamp-cards/{card_id}", response_model=StampCardRead)
def update_stamp_card(
    card_id: uuid.UUID, body: StampCardUpdate, session: DbSession, _: MayEditRewards
) -> StampCard:
    return stamps.update_card(session, card_id=card_id, data=body)


# --------------------------------------------------------------------------- referrals


@router.get("/customers/{customer_id}/referral", response_model=ReferralInfo)
def referral_info(
    customer_id: uuid.UUID, session: DbSession, settings: AppSettings, _: Reader
) -> ReferralInfo:
    return referrals.info(session, settings=settings, customer_id=customer_id)


@router.post(
    "/customers/{customer_id}/referral",
    status_code=201,
    response_model=ReferralRead,
    dependencies=[Idempotent],
)
def apply_referral(
    customer_id: uuid.UUID,
    body: ReferralApply,
    session: DbSession,
    settings: AppSettings,
    _: Writer,
) -> Referral:
    return referrals.apply_code(session, settings=settings, referee_id=customer_id, code=body.code)


@router.get("/referrals", response_model=ReferralPage)
def list_referrals(
    session: ReadSession,
    _: Reader,
    status: Annotated[str | None, Query(description="review: the review queue.")] = None,
    customer_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = referrals.list_referrals(
        session, status=status, customer_id=customer_id, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": nxt}


@router.post(
    "/referrals/{referral_id}/approve", response_model=ReferralRead, dependencies=[Idempotent]
)
def approve_referral(
    referral_id: uuid.UUID,
    body: ReferralReview,
    session: DbSession,
    settings: AppSettings,
    who: MayReviewReferrals,
) -> Referral:
    return referrals.approve(
        session, settings=settings, referral_id=referral_id, by=who.label, note=body.note
    )


@router.post(
    "/referrals/{referral_id}/reject", response_model=ReferralRead, dependencies=[Idempotent]
)
def reject_referral(
    referral_id: uuid.UUID, body: ReferralReview, session: DbSession, who: MayReviewReferrals
) -> Referral:
    return referrals.reject(session, referral_id=referral_id, by=who.label, note=body.note)


# --------------------------------------------------------------------------- point of sale


@router.get("/pos/customers", response_model=list[PosCustomer])
def pos_search(
    session: ReadSession,
    settings: AppSettings,
    _: Reader,
    q: Annotated[str, Query(min_length=1, max_length=100, description="Phone digits or a name.")],
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> list[PosCustomer]:
    return pos.search(session, settings=settings, q=q, limit=limit)


@router.get("/pos/customers/{customer_id}", response_model=PosSummary)
def pos_summary(
    customer_id: uuid.UUID, session: ReadSession, settings: AppSettings, _: Reader
) -> PosSummary:
    return pos.summary(session, settings=settings, customer_id=customer_id)


@router.post("/pos/purchases", status_code=201, response_model=PosResult, dependencies=[Idempotent])
def pos_purchase(
    body: PosPurchase, session: DbSession, settings: AppSettings, who: Writer
) -> PosResult:
    return pos.record_purchase(
        session,
        settings=settings,
        data=body,
        by=who.label,
        staff_id=who.id if who.kind == "staff" else None,
    )


@router.post("/pos/attach", response_model=PosResult, dependencies=[Idempotent])
def pos_attach(
    body: PosAttach, session: DbSession, settings: AppSettings, who: Writer
) -> PosResult:
    return pos.attach_order(session, settings=settings, data=body, by=who.label)


@router.post("/pos/enrol", status_code=201, response_model=PosSummary, dependencies=[Idempotent])
def pos_enrol(body: PosEnrol, session: DbSession, settings: AppSettings, who: Writer) -> PosSummary:
    return pos.enrol(session, settings=settings, data=body, by=who.label)
