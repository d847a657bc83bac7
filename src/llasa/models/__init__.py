"""Model files shipped inside the package (data only; see MODEL_CARD.md)."""
