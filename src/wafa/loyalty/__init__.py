"""The loyalty engine: points ledger, rules, tiers, rewards, coupons, referrals, streaks."""
