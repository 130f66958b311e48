"""What a waiting customer may choose: cancel (and have the Shopify order edited), switch to an
in-stock alternative, and a goodwill discount when the wait grows long."""
