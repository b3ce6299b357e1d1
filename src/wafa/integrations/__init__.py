"""Live shops: Shopify and WooCommerce webhooks in, signed webhooks out."""
