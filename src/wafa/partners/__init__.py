"""Partner businesses: their offers redeemed at their counter, their codes bringing customers here."""
