"""Surprise rewards: rules the owner sets and the customer does not see coming.

``service`` holds the rules (once per occasion, the monthly budget), ``schemas`` the API's
shapes and ``api`` its routes. Accrual calls ``service.on_purchase`` once per live order;
the daily job ``surprises`` grants anniversaries.
"""
