"""Orders: products, locations, orders from every channel, refunds, import."""
