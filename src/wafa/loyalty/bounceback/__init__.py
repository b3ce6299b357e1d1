"""Bounce-back offers: a coupon handed over with this purchase, good for the next visit.

``service`` holds the rules and issuing (called by accrual, once per order), ``report``
what they did against the holdout, ``schemas`` the shapes, ``api`` the JSON routes;
the dashboard page is ``wafa.loyalty.web.bounceback``.
"""
