"""Importing customers, products and orders from CSV exports (Shopify, WooCommerce, generic).

``pipeline.import_orders`` validates a whole file before writing any of it and then
writes it in one transaction through ``writer.OrderWriter``; ``customers`` and
``products`` import those exports. See each format module for the columns it reads.
"""
